"""Where things live in a course checkout, and each assignment's ``assignment.toml``.

Layout (the same in the instructor's course repository and, minus ``solutions/`` and
``tests/hidden/``, in a student's repository)::

    assignments/<name>/          the student's package (generated stubs in the course repo)
    solutions/<name>/            the reference package, solution regions marked
    tests/public/<name>/         self-check tests, assignment.toml, snapshots/
    tests/hidden/<name>/         graded tests and mutants.toml (never shipped)

``assignment.toml`` (beside the public tests, because students need it for self-checks)::

    title = "PyTorch warm-up"
    time_budget_s = 60          # whole hidden + public suite on two CPU cores, reference
    call_timeout_s = 30         # default per-test limit (a test may set @pytest.mark.timeout)
    memory_mb = 4096            # address-space limit of the worker (CPU runs)
    threads = 1                 # torch threads in the worker and the grader (keep 1: see budget)
    forbidden = ["torch.softmax", "torch.Tensor.softmax", "torch.nn.functional.softmax"]
    allow = []                  # names the from-scratch rule lets pass (grading.forbidden)
    forbidden_ops = ["aten::_softmax"]  # operators the worker's run-time check refuses
    grant_data = []             # package data folders the worker may read (sandbox.root)
    [intake]                    # bounds on the submitted package (defaults: sandbox.intake)
    max_bytes = 16777216
    max_files = 400
    max_depth = 8
    max_name = 100
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.intake import IntakeLimits
from autograder.sandbox.root import DATA_FOLDERS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

CONFIG_NAME = "assignment.toml"


@dataclass(frozen=True)
class AssignmentConfig:
    """One assignment's grading settings."""

    name: str
    title: str
    time_budget_s: float = 60.0
    call_timeout_s: float = 30.0
    memory_mb: int = 4096
    threads: int = 1
    forbidden: tuple[str, ...] = field(default_factory=tuple)
    allow: tuple[str, ...] = field(default_factory=tuple)
    forbidden_ops: tuple[str, ...] = field(default_factory=tuple)
    grant_data: tuple[str, ...] = field(default_factory=tuple)
    intake: IntakeLimits = field(default_factory=IntakeLimits)


@dataclass(frozen=True)
class Course:
    """A course checkout rooted at ``root``."""

    root: Path

    @classmethod
    def find(cls, start: Path | None = None) -> Course:
        """The course containing ``start`` (default: ``$LLMSOC_COURSE_ROOT`` or the cwd).

        Walks up until a directory holding ``tests/public`` is found.
        """
        if start is None and os.environ.get("LLMSOC_COURSE_ROOT"):
            return cls(Path(os.environ["LLMSOC_COURSE_ROOT"]).resolve())
        here = (start or Path.cwd()).resolve()
        for d in (here, *here.parents):
            if (d / "tests" / "public").is_dir():
                return cls(d)
        raise FileNotFoundError(
            f"no course found at or above {here} (looked for a tests/public directory); "
            "run from inside the course or student repository, or set LLMSOC_COURSE_ROOT")

    def assignment_dir(self, name: str) -> Path:
        return self.root / "assignments" / name

    def solution_dir(self, name: str) -> Path:
        return self.root / "solutions" / name

    def public_tests(self, name: str) -> Path:
        return self.root / "tests" / "public" / name

    def hidden_tests(self, name: str) -> Path:
        return self.root / "tests" / "hidden" / name

    def has_solutions(self, name: str) -> bool:
        return (self.solution_dir(name) / "__init__.py").is_file()

    def assignments(self) -> list[str]:
        """Names of all assignments that have an ``assignment.toml``."""
        base = self.root / "tests" / "public"
        return sorted(p.parent.name for p in base.glob(f"*/{CONFIG_NAME}"))

    def config(self, name: str) -> AssignmentConfig:
        """Load ``tests/public/<name>/assignment.toml``; unknown keys are an error."""
        path = self.public_tests(name) / CONFIG_NAME
        if not path.is_file():
            known = ", ".join(self.assignments()) or "none"
            raise FileNotFoundError(f"unknown assignment {name!r} (known: {known})")
        data = tomllib.loads(path.read_text())
        allowed = {"title", "time_budget_s", "call_timeout_s", "memory_mb", "threads",
                   "forbidden", "allow", "forbidden_ops", "grant_data", "intake"}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(allowed)}")
        grants = tuple(data.get("grant_data", ()))
        if set(grants) - set(DATA_FOLDERS):
            raise ValueError(f"{path}: grant_data may name only {list(DATA_FOLDERS)}")
        limits = data.get("intake", {})
        bad = set(limits) - set(IntakeLimits.__dataclass_fields__)
        if bad or not all(isinstance(v, int) and v > 0 for v in limits.values()):
            raise ValueError(f"{path}: [intake] takes positive integers for "
                             f"{sorted(IntakeLimits.__dataclass_fields__)}")
        return AssignmentConfig(
            name=name,
            title=str(data.get("title", name)),
            time_budget_s=float(data.get("time_budget_s", 60.0)),
            call_timeout_s=float(data.get("call_timeout_s", 30.0)),
            memory_mb=int(data.get("memory_mb", 4096)),
            threads=int(data.get("threads", 1)),
            forbidden=tuple(data.get("forbidden", ())),
            allow=tuple(data.get("allow", ())),
            forbidden_ops=tuple(data.get("forbidden_ops", ())),
            grant_data=grants,
            intake=IntakeLimits(**limits),
        )

    def assignment_of(self, test_path: Path) -> tuple[str, str] | None:
        """``(assignment, visibility)`` for a test file under tests/public or tests/hidden."""
        try:
            rel = test_path.resolve().relative_to(self.root / "tests")
        except ValueError:
            return None
        parts = rel.parts
        if len(parts) >= 2 and parts[0] in ("public", "hidden"):
            return parts[1], parts[0]
        return None
