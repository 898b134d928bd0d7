"""Course validation: is every assignment's suite trustworthy?

For each assignment:

1. the reference scores every point on N seeds (``--llmsoc-salt 0..N-1``), sandboxed;
2. the blank stubs in ``assignments/<name>/`` score zero, every test saying "not implemented",
   without a crash or a timeout;
3. every mutant in ``tests/hidden/<name>/mutants.toml`` (a realistic wrong variant of the
   reference, written as a textual patch) loses points (its run stops at the first test that
   fails, so a mutant costs only the tests up to the one that catches it);
4. the reference's suite time (the slowest seed) fits the assignment's time budget.

Hidden tests are seeded from the public preview secret (``--llmsoc-preview-secret``), not the
machine's course secret, so a validation gives the same result on every machine.

Mutant format::

    [[mutant]]
    name = "softmax-no-max-shift"
    description = "forgets to subtract the maximum"
    file = "basics.py"
    find = "x = x - x.amax(dim=dim, keepdim=True)"   # must occur exactly once
    replace = "x = x"
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from autograder.grading.config import Course, tomllib
from autograder.grading.report import Report
from autograder.grading.runner import run

MIN_MUTANTS = 8
"""An assignment's definition of done asks for at least this many realistic mistakes."""


@dataclass
class Mutant:
    name: str
    description: str
    file: str
    find: str
    replace: str


@dataclass
class Validation:
    """Findings for one assignment; ``problems`` empty means valid."""

    name: str
    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def load_mutants(course: Course, name: str) -> list[Mutant]:
    path = course.hidden_tests(name) / "mutants.toml"
    if not path.is_file():
        return []
    return [Mutant(**m) for m in tomllib.loads(path.read_text()).get("mutant", [])]


def apply_mutant(solution_dir: Path, mutant: Mutant, out: Path) -> Path:
    """Copy the reference package to ``out/<name>`` with the mutant's patch applied."""
    target = out / solution_dir.name
    shutil.copytree(solution_dir, target, ignore=shutil.ignore_patterns("__pycache__"))
    f = target / mutant.file
    text = f.read_text()
    count = text.count(mutant.find)
    if count != 1:
        raise ValueError(f"mutant {mutant.name}: `find` occurs {count} times in {mutant.file} "
                         "(must be exactly once)")
    f.write_text(text.replace(mutant.find, mutant.replace))
    return target


def _summary(report: Report) -> tuple[float, float, float]:
    a = report.assignments[0]
    return a.earned, a.points, a.duration_s


def validate(course: Course, name: str, seeds: int = 20,
             progress: Callable[[str], None] | None = None) -> Validation:
    """Run the four checks on one assignment."""
    say = progress or (lambda s: print(s, file=sys.stderr, flush=True))
    v = Validation(name)
    cfg = course.config(name)
    slowest = 0.0
    for salt in range(seeds):
        report = run(course, [name], submission=course.solution_dir(name), official=False,
                     preview_secret=True, salt=salt)
        earned, points, secs = _summary(report)
        slowest = max(slowest, report.environment["wall_time_s"])
        say(f"  reference, seed {salt:2d}: {earned:g}/{points:g} in {secs:.1f}s")
        if earned < points:
            lost = [f"{t.name} ({t.status}: {t.feedback.splitlines()[0] if t.feedback else ''})"
                    for t in report.assignments[0].tests if t.earned < t.points]
            v.problems.append(f"reference lost points on seed {salt}: {'; '.join(lost)}")
    full = seeds - sum("reference lost" in p for p in v.problems)
    v.lines.append(f"reference: full marks on {full}/{seeds} seeds; slowest suite "
                   f"{slowest:.1f}s of a {cfg.time_budget_s:g}s budget")
    if slowest > cfg.time_budget_s:
        v.problems.append(f"suite takes {slowest:.1f}s, over the {cfg.time_budget_s:g}s budget")

    report = run(course, [name], submission=course.assignment_dir(name), official=False,
                 preview_secret=True)
    tests = [t for t in report.assignments[0].tests if t.points > 0]
    not_impl = sum(t.status == "not-implemented" for t in tests)
    earned, points, secs = _summary(report)
    v.lines.append(f"stub: {earned:g}/{points:g}, {not_impl}/{len(tests)} tests say "
                   f"'not implemented' ({secs:.1f}s)")
    if earned > 0:
        v.problems.append(f"the blank stub scores {earned:g} points")
    others = [f"{t.name}: {t.status}" for t in tests if t.status != "not-implemented"]
    if others:
        v.problems.append("stub tests not reported as 'not implemented': " + ", ".join(others))

    mutants = load_mutants(course, name)
    if len(mutants) < MIN_MUTANTS:
        v.problems.append(f"only {len(mutants)} mutants (the course asks for {MIN_MUTANTS})")
    for m in mutants:
        with tempfile.TemporaryDirectory(prefix="llmsoc-mutant-") as tmp:
            package = apply_mutant(course.solution_dir(name), m, Path(tmp))
            report = run(course, [name], submission=package, official=False, preview_secret=True,
                         stop_at_first_failure=True)
        earned, points, _ = _summary(report)
        caught = [t.name for t in report.assignments[0].tests if t.earned < t.points]
        v.lines.append(f"mutant {m.name}: caught by {caught[0]}" if caught else
                       f"mutant {m.name}: MISSED, {earned:g}/{points:g}")
        say(f"  {v.lines[-1]}")
        if earned >= points:
            v.problems.append(f"mutant {m.name} ({m.description}) scores full marks")
    return v
