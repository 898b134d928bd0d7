"""Renderers that turn a :class:`~autograder.grading.report.Report` into text.

Each renderer takes a report and returns a string; :func:`render` picks one by name from
:data:`FORMATS`:

* ``terminal``: an aligned table per assignment for a 100-column console, optionally coloured;
* ``json``: the report as :meth:`Report.to_dict` gives it (see ``report.schema.json``);
* ``markdown``: a GitHub Actions job summary (``$GITHUB_STEP_SUMMARY``);
* ``gradescope``: Gradescope's ``results.json`` autograder format;
* ``junit``: JUnit XML for CI test-report viewers.
"""

from __future__ import annotations

import html
import json
import re
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from autograder.grading.report import AssignmentResult, Report, TestResult

FORMATS = ("terminal", "json", "markdown", "gradescope", "junit")

OFFICIAL_LINE = "OFFICIAL GRADE"
PREVIEW_LINE = "self-check preview (not an official grade)"

# Statuses reported as a JUnit <error> (the run broke) rather than a <failure> (wrong answer).
JUNIT_ERROR_STATUSES = frozenset({"crash", "error"})


def _fmt_num(value: float) -> str:
    """A point count or duration without trailing zeros: 2, 2.5, 0.33."""
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _percent(earned: float, points: float) -> str:
    return f"{100 * earned / points:.1f}%" if points else "n/a"


def _score(earned: float, points: float) -> str:
    return f"{_fmt_num(earned)}/{_fmt_num(points)}"


def _grade_line(report: Report) -> str:
    return OFFICIAL_LINE if report.official else PREVIEW_LINE


def _env_items(environment: dict[str, Any]) -> list[tuple[str, str]]:
    """The environment fingerprint as (key, text) pairs; non-string values as compact JSON."""
    return [
        (str(k), v if isinstance(v, str) else json.dumps(v, sort_keys=True))
        for k, v in environment.items()
    ]


def _failing(test: TestResult) -> bool:
    return test.status != "passed"


def _status_text(test: TestResult) -> str:
    """The status, with the failure class when it adds something: ``failed (gradient)``."""
    extra = test.failure_class not in (None, test.status)
    return f"{test.status} ({test.failure_class})" if extra else test.status


# Control characters (ESC, C1 codes...) in submission-controlled text could move the cursor or
# forge colours and lines on a terminal; they are shown as U+FFFD instead.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _printable_lines(text: str) -> list[str]:
    """``text`` split into lines (any line break), control characters replaced."""
    return [_CONTROL.sub("\ufffd", line) for line in text.splitlines()]


def _printable(text: str) -> str:
    return "\n".join(_printable_lines(text))


# --------------------------------------------------------------------------- terminal

_WIDTH = 100
_NAME_W, _CAT_W, _STATUS_W, _POINTS_W = 44, 14, 15, 13
_FEEDBACK_INDENT = " " * 6

_ANSI = {"green": "\x1b[32m", "yellow": "\x1b[33m", "red": "\x1b[31m", "bold": "\x1b[1m"}
_ANSI_RESET = "\x1b[0m"


def _truncate(text: str, width: int) -> str:
    text = " ".join(_printable(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _paint(text: str, colour: str, color: bool) -> str:
    return f"{_ANSI[colour]}{text}{_ANSI_RESET}" if color else text


def _status_colour(status: str) -> str:
    return {"passed": "green", "partial": "yellow"}.get(status, "red")


def _ratio_colour(earned: float, points: float) -> str:
    if points and earned >= points:
        return "green"
    return "yellow" if earned > 0 else "red"


def _terminal_row(test: TestResult, color: bool) -> str:
    status = _paint(test.status.ljust(_STATUS_W), _status_colour(test.status), color)
    return (
        f"  {_truncate(test.name, _NAME_W):<{_NAME_W}} {test.category:<{_CAT_W}} {status} "
        f"{_score(test.earned, test.points):>{_POINTS_W}}"
    )


def _terminal_feedback(test: TestResult) -> list[str]:
    lines = _printable_lines(test.feedback)
    if test.failure_class:
        first = f"[{test.failure_class}] {lines[0] if lines else ''}".rstrip()
        lines = [first, *lines[1:]]
    wrapped: list[str] = []
    for line in lines:
        wrapped += textwrap.wrap(
            line, _WIDTH, initial_indent=_FEEDBACK_INDENT, subsequent_indent=_FEEDBACK_INDENT
        ) or [""]
    return wrapped


def _terminal_budget(assignment: AssignmentResult) -> str:
    used = f"{assignment.duration_s:.1f}s"
    budget = assignment.time_budget_s
    if budget is None:
        return f"time {used} (no budget)"
    over = "  OVER BUDGET" if assignment.duration_s > budget else ""
    return f"time {used} / {_fmt_num(budget)}s budget{over}"


def _terminal_assignment(assignment: AssignmentResult, color: bool) -> list[str]:
    header = (
        f"  {'test':<{_NAME_W}} {'category':<{_CAT_W}} {'status':<{_STATUS_W}} "
        f"{'points':>{_POINTS_W}}"
    )
    title = _paint(_printable(assignment.name), "bold", color)
    lines = [title, header, "  " + "-" * (len(header) - 2)]
    for test in assignment.tests:
        lines.append(_terminal_row(test, color))
        if _failing(test):
            lines += _terminal_feedback(test)
    earned, points = assignment.earned, assignment.points
    total = f"total {_score(earned, points)} ({_percent(earned, points)})"
    total = _paint(total, _ratio_colour(earned, points), color)
    lines.append(f"  {total}   {_terminal_budget(assignment)}")
    lines += [f"  note: {_printable(note)}" for note in assignment.notes]
    return lines


def to_terminal(report: Report, color: bool) -> str:
    """A table per assignment, feedback under failing tests, totals and the grade status."""
    lines: list[str] = []
    for assignment in report.assignments:
        lines += _terminal_assignment(assignment, color) + [""]
    earned, points = report.earned, report.points
    grand = f"GRAND TOTAL {_score(earned, points)} ({_percent(earned, points)})"
    lines.append(_paint(grand, _ratio_colour(earned, points), color))
    lines.append(_paint(_grade_line(report), "bold", color))
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- json


def to_json(report: Report) -> str:
    """The report as indented JSON; ``Report.from_dict(json.loads(...))`` restores it."""
    return json.dumps(report.to_dict(), indent=2, sort_keys=False)


# --------------------------------------------------------------------------- markdown

_STATUS_EMOJI = {
    "passed": "✅",
    "partial": "🟡",
    "failed": "❌",
    "not-implemented": "⬜",
    "timeout": "⏱️",
    "crash": "💥",
    "forbidden": "🚫",
    "error": "⚠️",
}


def md_cell(text: str) -> str:
    """Escape text for one GitHub-flavoured Markdown table cell."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("\\", "\\\\").replace("|", "\\|")
    return "<br>".join(text.splitlines())


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(md_cell(c) for c in cells) + " |"


def _md_fence(text: str) -> str:
    """A fenced code block longer than any backtick run inside ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _md_details(test: TestResult) -> list[str]:
    summary = html.escape(f"{test.name}: {_status_text(test)}")
    body = _printable(test.feedback) or "(no feedback)"
    return ["<details>", f"<summary>{summary}</summary>", "", _md_fence(body), "", "</details>", ""]


def _md_assignment(assignment: AssignmentResult) -> list[str]:
    earned, points = assignment.earned, assignment.points
    lines = [
        f"### {md_cell(assignment.name)}: {_score(earned, points)} ({_percent(earned, points)})",
        "",
        _md_row(["Test", "Category", "Status", "Points"]),
        "| --- | --- | --- | ---: |",
    ]
    for t in assignment.tests:
        status = f"{_STATUS_EMOJI.get(t.status, '')} {t.status}".strip()
        lines.append(_md_row([t.name, t.category, status, _score(t.earned, t.points)]))
    lines.append("")
    for t in filter(_failing, assignment.tests):
        lines += _md_details(t)
    lines += [f"- note: {md_cell(note)}" for note in assignment.notes]
    return lines


def _md_environment(environment: dict[str, Any]) -> list[str]:
    if not environment:
        return []
    rows = [_md_row([k, v]) for k, v in _env_items(environment)]
    return ["### Environment", "", "| Key | Value |", "| --- | --- |", *rows, ""]


def to_markdown(report: Report) -> str:
    """A GitHub Actions job summary: score heading, a table per assignment, environment."""
    earned, points = report.earned, report.points
    lines = [
        f"## LLM-SOC grade: {_score(earned, points)} ({_percent(earned, points)})",
        "",
        f"**{_grade_line(report)}**" + (f" · {md_cell(report.created)}" if report.created else ""),
        "",
    ]
    for assignment in report.assignments:
        lines += _md_assignment(assignment) + [""]
    lines += _md_environment(report.environment)
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- gradescope

# Our test visibility -> Gradescope's test "visibility" (one of "hidden", "after_due_date",
# "after_published", "visible"). Hidden tests are shown too: only their name, score and the
# already-sanitised feedback (failure class and hint) reach the student, never their code.
GRADESCOPE_VISIBILITY = {"public": "visible", "hidden": "visible"}


def _gradescope_test(
    number: str, assignment: AssignmentResult, test: TestResult
) -> dict[str, Any]:
    output = _status_text(test) + (f"\n\n{test.feedback}" if test.feedback else "")
    return {
        "score": round(test.earned, 6),
        "max_score": round(test.points, 6),
        "status": "passed" if test.status == "passed" else "failed",
        "name": f"{assignment.name}: {test.name}",
        "number": number,
        "output": output,
        "tags": [assignment.name, test.category],
        "visibility": GRADESCOPE_VISIBILITY[test.visibility],
    }


def _gradescope_output(report: Report) -> str:
    lines = [_grade_line(report)]
    for a in report.assignments:
        lines.append(f"{a.name}: {_score(a.earned, a.points)}")
        lines += [f"  note: {note}" for note in a.notes]
    if report.environment:
        lines += ["", "Environment:"] + [f"  {k}: {v}" for k, v in _env_items(report.environment)]
    return "\n".join(lines)


def to_gradescope(report: Report) -> str:
    """Gradescope's ``results.json``, using only documented fields."""
    tests = [
        _gradescope_test(f"{i}.{j}", a, t)
        for i, a in enumerate(report.assignments, start=1)
        for j, t in enumerate(a.tests, start=1)
    ]
    results = {
        "score": round(report.earned, 6),
        "execution_time": round(sum(a.duration_s for a in report.assignments)),
        "output": _gradescope_output(report),
        "output_format": "text",
        "test_output_format": "text",
        "visibility": "visible",
        # stdout of the grading run is for instructors only: it may name hidden-test internals.
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return json.dumps(results, indent=2)


# --------------------------------------------------------------------------- junit

# Characters XML 1.0 forbids even when escaped (most C0 controls, e.g. ANSI escape codes).
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=_xml_text(value))


def _junit_testcase(suite: ET.Element, assignment: AssignmentResult, test: TestResult) -> None:
    case = ET.SubElement(
        suite, "testcase", classname=_xml_text(assignment.name), name=_xml_text(test.name),
        time=f"{test.duration_s:.3f}",
    )
    _properties(case, {
        "earned": _fmt_num(test.earned), "points": _fmt_num(test.points),
        "category": test.category, "visibility": test.visibility, "status": test.status,
    })
    if not _failing(test):
        return
    tag = "error" if test.status in JUNIT_ERROR_STATUSES else "failure"
    first_line = next(iter(test.feedback.splitlines()), "")
    message = f"{test.status}: {first_line}" if first_line else test.status
    node = ET.SubElement(
        case, tag, message=_xml_text(message), type=test.failure_class or test.status
    )
    node.text = _xml_text(test.feedback)


def _junit_suite(root: ET.Element, assignment: AssignmentResult) -> tuple[int, int]:
    """Append one <testsuite>; returns its (failures, errors)."""
    failing = [t for t in assignment.tests if _failing(t)]
    errors = sum(t.status in JUNIT_ERROR_STATUSES for t in failing)
    suite = ET.SubElement(
        root, "testsuite", name=_xml_text(assignment.name), tests=str(len(assignment.tests)),
        failures=str(len(failing) - errors), errors=str(errors), skipped="0",
        time=f"{assignment.duration_s:.3f}",
    )
    budget = assignment.time_budget_s
    _properties(suite, {
        "earned": _fmt_num(assignment.earned), "points": _fmt_num(assignment.points),
        "time_budget_s": "none" if budget is None else _fmt_num(budget),
    })
    for test in assignment.tests:
        _junit_testcase(suite, assignment, test)
    return len(failing) - errors, errors


def to_junit(report: Report) -> str:
    """JUnit XML: one <testsuite> per assignment, points as <properties>."""
    root = ET.Element("testsuites", name="llmsoc")
    counts = [_junit_suite(root, a) for a in report.assignments]
    root.set("tests", str(sum(len(a.tests) for a in report.assignments)))
    root.set("failures", str(sum(f for f, _ in counts)))
    root.set("errors", str(sum(e for _, e in counts)))
    root.set("time", f"{sum(a.duration_s for a in report.assignments):.3f}")
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


# --------------------------------------------------------------------------- dispatch

_RENDERERS: dict[str, Callable[[Report, bool], str]] = {
    "terminal": to_terminal,
    "json": lambda report, _color: to_json(report),
    "markdown": lambda report, _color: to_markdown(report),
    "gradescope": lambda report, _color: to_gradescope(report),
    "junit": lambda report, _color: to_junit(report),
}


def render(report: Report, fmt: str, color: bool = False) -> str:
    """Render ``report`` in format ``fmt`` (one of :data:`FORMATS`); ``color`` is for terminal."""
    if fmt not in _RENDERERS:
        raise ValueError(f"unknown report format {fmt!r}; valid formats: {', '.join(FORMATS)}")
    return _RENDERERS[fmt](report, color)
