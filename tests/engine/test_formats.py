"""Tests for the report renderers (:mod:`autograder.results.formats`, ``report.schema.json``)."""

from __future__ import annotations

import dataclasses
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from autograder.grading.report import (
    CATEGORIES,
    FAILURE_CLASSES,
    STATUSES,
    AssignmentResult,
    Report,
    TestResult,
)
from autograder.results import formats

SCHEMA_PATH = Path(formats.__file__).with_name("report.schema.json")
ANSI_RE = re.compile(r"\x1b\[[0-9;]*m")
LONG_NAME = "test_" + "very_long_name_" * 6
TRICKY_FEEDBACK = "expected a | b < c & d\nsecond line with `code` and <tag>"


def _test(name: str, status: str, points: float, earned: float, **kw: Any) -> TestResult:
    defaults: dict[str, Any] = {
        "nodeid": f"tests/public/test_x.py::{name}",
        "category": "value",
        "visibility": "public",
        "failure_class": None if status == "passed" else "value",
        "feedback": "",
        "duration_s": 0.25,
    }
    defaults.update(kw)
    return TestResult(name=name, points=points, earned=earned, status=status, **defaults)


def make_report(official: bool = False) -> Report:
    a1 = AssignmentResult(
        name="a1-attention",
        tests=[
            _test("test_shapes", "passed", 2.0, 2.0, category="shape"),
            _test("test_values", "partial", 3.0, 1.5, failure_class="threshold",
                  feedback=TRICKY_FEEDBACK),
            _test("test_grad", "failed", 2.0, 0.0, category="gradient", visibility="hidden",
                  failure_class="gradient", feedback="hint: check the | backward\nagain & <again>"),
            _test(LONG_NAME, "passed", 1.0, 1.0, category="invariant"),
        ],
        duration_s=3.125,
        time_budget_s=60.0,
    )
    a2 = AssignmentResult(
        name="a2-training",
        tests=[
            _test("test_train", "timeout", 5.0, 0.0, category="training", failure_class="timeout",
                  feedback="exceeded 30s\x1b[31m"),
            _test("test_crash", "crash", 1.0, 0.0, category="invariant", visibility="hidden",
                  failure_class="crash", feedback="worker died (signal 9)"),
            _test("test_ppl", "not-implemented", 2.0, 0.0, category="perplexity",
                  failure_class="not-implemented", feedback="NotImplementedError"),
        ],
        duration_s=41.5,
        time_budget_s=None,
        notes=["budget | note"],
    )
    env = {"python": "3.11.9", "torch": "2.3.0", "sandbox": {"kind": "bwrap", "net": False},
           "suite_hash": "abc|123"}
    return Report([a1, a2], official=official, environment=env, created="2024-05-01T12:00:00Z")


@pytest.fixture
def report() -> Report:
    return make_report()


# --------------------------------------------------------------------------- schema validator

_SUPPORTED = {
    "$schema", "$defs", "$ref", "title", "description", "type", "const", "enum", "minimum",
    "required", "properties", "additionalProperties", "items",
}
_PY_TYPES: dict[str, type | tuple[type, ...]] = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
    "number": (int, float),
}


def _is_type(value: Any, name: str) -> bool:
    return isinstance(value, _PY_TYPES[name]) and not (name == "number" and isinstance(value, bool))


def _same(a: Any, b: Any) -> bool:
    return a == b and type(a) is type(b)


def _resolve(ref: str, root: dict) -> dict:
    node: Any = root
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _scalar_errors(value: Any, schema: dict, path: str) -> list[str]:
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    errors = []
    if types and not any(_is_type(value, t) for t in types):
        errors.append(f"{path}: {value!r} is not of type {types}")
    if "const" in schema and not _same(value, schema["const"]):
        errors.append(f"{path}: {value!r} != {schema['const']!r}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        errors.append(f"{path}: {value!r} not in {schema['enum']}")
    if "minimum" in schema and _is_type(value, "number") and value < schema["minimum"]:
        errors.append(f"{path}: {value!r} < {schema['minimum']}")
    return errors


def _object_errors(value: dict, schema: dict, root: dict, path: str) -> list[str]:
    props = schema.get("properties", {})
    errors = [f"{path}: missing {k!r}" for k in schema.get("required", []) if k not in value]
    if schema.get("additionalProperties", True) is False:
        errors += [f"{path}: unexpected {k!r}" for k in value if k not in props]
    for key, sub in props.items():
        if key in value:
            errors += validate(value[key], sub, root, f"{path}.{key}")
    return errors


def validate(value: Any, schema: dict, root: dict, path: str = "$") -> list[str]:
    """A tiny JSON Schema validator for the keywords ``report.schema.json`` uses."""
    unknown = set(schema) - _SUPPORTED
    assert not unknown, f"the test validator does not support {unknown} (at {path})"
    errors = _scalar_errors(value, schema, path)
    if "$ref" in schema:
        errors += validate(value, _resolve(schema["$ref"], root), root, path)
    if isinstance(value, dict):
        errors += _object_errors(value, schema, root, path)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{path}[{i}]")
    return errors


def load_schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def schema_errors(data: Any) -> list[str]:
    schema = load_schema()
    return validate(data, schema, schema)


# --------------------------------------------------------------------------- json + schema


def test_json_round_trips(report: Report) -> None:
    text = formats.to_json(report)
    assert json.loads(text) == report.to_dict()
    assert text.startswith('{\n  "schema_version": "1.0"')
    assert Report.from_dict(json.loads(text)) == report


def test_json_report_matches_schema(report: Report) -> None:
    assert schema_errors(json.loads(formats.to_json(report))) == []
    assert schema_errors(json.loads(formats.to_json(Report([], official=True)))) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(schema_version="2.0"), "$.schema_version"),
        (lambda d: d.pop("earned"), "missing 'earned'"),
        (lambda d: d.update(extra=1), "unexpected 'extra'"),
        (lambda d: d["assignments"][0].update(time_budget_s="60"), "time_budget_s"),
        (lambda d: d["assignments"][0]["tests"][0].update(status="ok"), "status"),
        (lambda d: d["assignments"][0]["tests"][0].update(category="speed"), "category"),
        (lambda d: d["assignments"][0]["tests"][0].update(failure_class="oops"), "failure_class"),
        (lambda d: d["assignments"][0]["tests"][0].update(visibility="secret"), "visibility"),
        (lambda d: d["assignments"][1]["tests"][0].update(points=True), "points"),
        (lambda d: d["assignments"][1]["tests"][0].update(earned=-1), "earned"),
    ],
)
def test_schema_rejects_invalid_reports(report: Report, mutate: Any, expected: str) -> None:
    data = report.to_dict()
    mutate(data)
    errors = schema_errors(data)
    assert errors and all(expected in e for e in errors), errors


def _descriptions_missing(node: Any, path: str = "$") -> list[str]:
    if not isinstance(node, dict):
        return []
    missing = []
    for key in ("properties", "$defs"):
        for name, sub in node.get(key, {}).items():
            if "description" not in sub:
                missing.append(f"{path}.{name}")
            missing += _descriptions_missing(sub, f"{path}.{name}")
    return missing + _descriptions_missing(node.get("items"), f"{path}[]")


def test_schema_documents_every_field_and_constant() -> None:
    schema = load_schema()
    test_def = schema["$defs"]["test"]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert set(test_def["properties"]) == {f.name for f in dataclasses.fields(TestResult)}
    assert test_def["properties"]["status"]["enum"] == list(STATUSES)
    assert test_def["properties"]["category"]["enum"] == list(CATEGORIES)
    assert test_def["properties"]["failure_class"]["enum"] == [*FAILURE_CLASSES, None]
    assert set(schema["properties"]["environment"]["properties"]) == {
        "python", "torch", "platform", "device", "sandbox", "suite_hash", "submission_hash",
        "seed_mode",
    }
    assert _descriptions_missing(schema) == []


def test_schema_agrees_with_jsonschema_if_available(report: Report) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(report.to_dict())


# --------------------------------------------------------------------------- gradescope

GRADESCOPE_TOP_KEYS = {
    "score", "execution_time", "output", "output_format", "test_output_format",
    "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard",
}
GRADESCOPE_TEST_KEYS = {
    "score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
    "tags", "visibility", "extra_data",
}
GRADESCOPE_VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def test_gradescope_results(report: Report) -> None:
    results = json.loads(formats.to_gradescope(report))
    tests = results["tests"]
    assert set(results) <= GRADESCOPE_TOP_KEYS
    assert all(set(t) <= GRADESCOPE_TEST_KEYS for t in tests)
    assert len(tests) == 7
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests)) == 4.5
    assert sum(t["max_score"] for t in tests) == pytest.approx(report.points) == 16.0
    assert results["execution_time"] == 45
    assert [t["status"] for t in tests].count("passed") == 2
    assert {t["visibility"] for t in tests} <= GRADESCOPE_VISIBILITIES
    assert {results["visibility"], results["stdout_visibility"]} <= GRADESCOPE_VISIBILITIES
    assert [t["number"] for t in tests[:2]] == ["1.1", "1.2"]
    assert tests[1]["name"] == "a1-attention: test_values"
    assert TRICKY_FEEDBACK in tests[1]["output"]
    assert "suite_hash: abc|123" in results["output"]
    assert formats.PREVIEW_LINE in results["output"]


def test_gradescope_visibility_mapping_covers_all_visibilities() -> None:
    assert set(formats.GRADESCOPE_VISIBILITY) == {"public", "hidden"}
    assert set(formats.GRADESCOPE_VISIBILITY.values()) <= GRADESCOPE_VISIBILITIES


# --------------------------------------------------------------------------- junit


def test_junit_parses_and_counts(report: Report) -> None:
    root = ET.fromstring(formats.to_junit(report))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("7", "4", "1")
    assert root.get("time") == "44.625"
    s1, s2 = root.findall("testsuite")
    assert (s1.get("name"), s1.get("tests"), s1.get("failures"), s1.get("errors")) == (
        "a1-attention", "4", "2", "0")
    assert (s2.get("tests"), s2.get("failures"), s2.get("errors")) == ("3", "2", "1")
    assert len(root.findall(".//testcase")) == 7


def test_junit_failures_errors_and_properties(report: Report) -> None:
    root = ET.fromstring(formats.to_junit(report))
    cases = {c.get("name"): c for c in root.iter("testcase")}
    partial = cases["test_values"]
    assert partial.get("classname") == "a1-attention"
    failure = partial.find("failure")
    assert failure is not None and failure.get("type") == "threshold"
    assert failure.text == TRICKY_FEEDBACK
    assert failure.get("message") == "partial: expected a | b < c & d"
    props = {p.get("name"): p.get("value") for p in partial.iter("property")}
    assert (props["earned"], props["points"], props["category"]) == ("1.5", "3", "value")
    crash = cases["test_crash"]
    assert crash.find("failure") is None and crash.find("error").get("type") == "crash"
    assert list(cases["test_shapes"]) == [cases["test_shapes"].find("properties")]
    assert "\x1b" not in cases["test_train"].find("failure").text
    suite_props = {p.get("name"): p.get("value") for p in root.find("testsuite/properties")}
    assert suite_props == {"earned": "4.5", "points": "8", "time_budget_s": "60"}


# --------------------------------------------------------------------------- markdown


def _table_rows(markdown: str) -> list[str]:
    return [line for line in markdown.splitlines() if line.startswith("| ")]


def _cells(row: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]]


def test_markdown_tables(report: Report) -> None:
    md = formats.to_markdown(report)
    assert md.startswith("## LLM-SOC grade: 4.5/16 (28.1%)\n")
    rows = _table_rows(md)
    header_rows = [r for r in rows if r == "| Test | Category | Status | Points |"]
    test_rows = [r for r in rows if r.count("|") >= 5 and "test_" in r]
    assert len(header_rows) == 2 and len(test_rows) == 7
    assert all(len(_cells(r)) == 4 for r in header_rows + test_rows)
    assert "| test_values | value | 🟡 partial | 1.5/3 |" in rows
    assert "| test_crash | invariant | 💥 crash | 0/1 |" in rows


def test_markdown_escapes_cells_and_shows_feedback(report: Report) -> None:
    md = formats.to_markdown(report)
    assert md.count("<details>") == 5 and md.count("</details>\n\n") == 5
    assert "<summary>test_grad: failed (gradient)</summary>" in md
    assert "<summary>test_train: timeout</summary>" in md
    assert "```text\nexceeded 30s\ufffd[31m\n```" in md
    assert "\n- note: budget \\| note\n" in md
    assert f"```text\n{TRICKY_FEEDBACK}\n```" in md
    env_rows = [r for r in _table_rows(md) if r.startswith("| suite_hash")]
    assert env_rows == ["| suite_hash | abc\\|123 |"]
    assert '| sandbox | {"kind": "bwrap", "net": false} |' in md
    assert formats.md_cell("a|b\nc <d> & e") == "a\\|b<br>c &lt;d&gt; &amp; e"
    assert formats.PREVIEW_LINE in md


def test_markdown_fence_outgrows_backticks_in_feedback(report: Report) -> None:
    report.assignments[0].tests[1].feedback = "look: ````x````"
    assert "`````text\nlook: ````x````\n`````" in formats.to_markdown(report)


# --------------------------------------------------------------------------- terminal


def test_terminal_plain(report: Report) -> None:
    out = formats.to_terminal(report, color=False)
    lines = out.splitlines()
    assert "\x1b" not in out
    assert max(len(line) for line in lines) <= 100
    assert any(line.startswith("  test_values ") and line.endswith("1.5/3") for line in lines)
    assert LONG_NAME not in out and LONG_NAME[:43] + "…" in out
    grad = lines.index(next(line for line in lines if line.startswith("  test_grad ")))
    assert lines[grad + 1] == "      [gradient] hint: check the | backward"
    assert lines[grad + 2] == "      again & <again>"
    assert "  total 4.5/8 (56.2%)   time 3.1s / 60s budget" in lines
    assert "  total 0/8 (0.0%)   time 41.5s (no budget)" in lines
    assert "  note: budget | note" in lines
    assert lines[-2:] == ["GRAND TOTAL 4.5/16 (28.1%)", formats.PREVIEW_LINE]


def test_terminal_wraps_long_feedback_and_skips_empty(report: Report) -> None:
    report.assignments[0].tests[1].feedback = "word " * 60
    report.assignments[0].tests[2].failure_class = None
    report.assignments[0].tests[2].feedback = ""
    lines = formats.to_terminal(report, color=False).splitlines()
    values = lines.index(next(line for line in lines if line.startswith("  test_values ")))
    wrapped = lines[values + 1 : values + 5]
    assert all(90 <= len(line) <= 100 for line in wrapped[:3])
    assert wrapped[0].startswith("      [threshold] word")
    assert all(line.startswith("      word") for line in wrapped[1:])
    assert " ".join(wrapped).split().count("word") == 60
    assert lines[values + 5].startswith("  test_grad ")
    assert lines[values + 6].startswith("  test_very_long_name")


def test_terminal_colour(report: Report) -> None:
    out = formats.to_terminal(report, color=True)
    for code in ("\x1b[32m", "\x1b[33m", "\x1b[31m"):
        assert code in out
    assert ANSI_RE.sub("", out) == formats.to_terminal(report, color=False)


def test_terminal_official_and_over_budget() -> None:
    report = make_report(official=True)
    report.assignments[0].duration_s = 61.0
    out = formats.to_terminal(report, color=False)
    assert out.rstrip().endswith(formats.OFFICIAL_LINE)
    assert formats.PREVIEW_LINE not in out
    assert "time 61.0s / 60s budget  OVER BUDGET" in out


# --------------------------------------------------------------------------- render


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_render_dispatches(report: Report, fmt: str) -> None:
    direct = {
        "terminal": lambda: formats.to_terminal(report, color=False),
        "json": lambda: formats.to_json(report),
        "markdown": lambda: formats.to_markdown(report),
        "gradescope": lambda: formats.to_gradescope(report),
        "junit": lambda: formats.to_junit(report),
    }[fmt]
    assert formats.render(report, fmt) == direct()


def test_render_colour_only_for_terminal(report: Report) -> None:
    assert "\x1b[" in formats.render(report, "terminal", color=True)
    assert formats.render(report, "json", color=True) == formats.to_json(report)


def test_render_rejects_unknown_format(report: Report) -> None:
    valid = "valid formats: terminal, json, markdown, gradescope, junit"
    with pytest.raises(ValueError, match=valid):
        formats.render(report, "html")
