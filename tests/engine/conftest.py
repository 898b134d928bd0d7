"""Fixtures for the engine tests: tiny throwaway courses, graded through the real runner.

``make_course(submission, hidden, ...)`` writes a one-assignment course (``demo``) and returns
its root; ``grade(root, **run_kwargs)`` grades it with :func:`autograder.grading.runner.run` and
returns a :class:`Graded` (the report plus its tests by name). Sources are dedented, so tests can
write them as indented triple-quoted strings.
"""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.grading.config import Course
from autograder.grading.report import Report, TestResult
from autograder.grading.runner import run

NAME = "demo"

REFERENCE = """
    import torch

    def add(a, b):
        return a + b

    def scale(x, k):
        return x * k
    """

Sources = str | dict[str, str]


def _write(folder: Path, sources: Sources, default_name: str) -> None:
    if isinstance(sources, str):
        sources = {default_name: sources}
    for rel, text in sources.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))


@dataclass
class Graded:
    """One grading run: the report, its tests by name (static check left out) and wall time."""

    report: Report
    seconds: float

    @property
    def tests(self) -> dict[str, TestResult]:
        return {t.name: t for t in self.report.assignments[0].tests
                if not t.nodeid.endswith("::static")}

    def __getitem__(self, name: str) -> TestResult:
        return self.tests[name]

    @property
    def earned(self) -> float:
        return sum(t.earned for t in self.tests.values())


@pytest.fixture(scope="session")
def make_course(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``make_course(submission, hidden=None, *, public=None, reference=REFERENCE,
    call_timeout_s=5, config="")`` -> course root.

    ``submission``/``hidden``/``public``/``reference`` are a source (the package's
    ``__init__.py``, ``test_x.py``, ``test_public.py``) or ``{relative path: source}``;
    ``config`` is appended to ``assignment.toml``.
    """

    def make(submission: Sources, hidden: Sources | None = None, *, public: Sources | None = None,
             reference: Sources | None = REFERENCE, call_timeout_s: float = 5,
             config: str = "") -> Path:
        root = tmp_path_factory.mktemp("course")
        pub = root / "tests" / "public" / NAME
        pub.mkdir(parents=True)
        (pub / "assignment.toml").write_text(
            f'title = "{NAME}"\ntime_budget_s = 30\ncall_timeout_s = {call_timeout_s}\n'
            f'forbidden = ["torch.softmax"]\n{config}')
        _write(root / "assignments" / NAME, submission, "__init__.py")
        if reference is not None:
            _write(root / "solutions" / NAME, reference, "__init__.py")
        if hidden is not None:
            _write(root / "tests" / "hidden" / NAME, hidden, "test_x.py")
        if public is not None:
            _write(pub, public, "test_public.py")
        return root

    return make


def _forget_course_modules(base: Path) -> None:
    """Drop modules imported from throwaway courses.

    The runner imports test modules by their path relative to the course root
    (``tests.hidden.demo.test_x``) and the reference as ``llmsoc_reference_<name>``, and reuses
    whatever is in ``sys.modules`` under those names even when it came from another course (see
    test_plugin.py), so each run must start without them.
    """
    for key, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if key.startswith(("llmsoc_reference_", "llmsoc_debug_")) or file.startswith(str(base)):
            del sys.modules[key]


@pytest.fixture(scope="session")
def forget_course_modules(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], None]:
    """Call to drop every module imported from a throwaway course (see above)."""
    base = tmp_path_factory.getbasetemp()
    return lambda: _forget_course_modules(base)


@pytest.fixture(scope="session")
def grade(forget_course_modules: Callable[[], None]) -> Callable[..., Graded]:
    """``grade(root, official=True, **run_kwargs)`` -> :class:`Graded`, in a clean state."""

    def grade_(root: Path, **kwargs: object) -> Graded:
        kwargs.setdefault("official", True)
        forget_course_modules()
        start = time.monotonic()
        try:
            report = run(Course(root), [NAME], **kwargs)
        finally:
            forget_course_modules()
        return Graded(report, time.monotonic() - start)

    return grade_
