"""The grade report: what a grading run produces, independent of how it is rendered.

A :class:`Report` holds one :class:`AssignmentResult` per graded assignment, each holding one
:class:`TestResult` per test. Renderers for the terminal, JSON, Markdown, Gradescope and
JUnit live in :mod:`autograder.results.formats`; the JSON schema is documented in
``autograder/results/report.schema.json`` and versioned by :data:`SCHEMA_VERSION`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from autograder.grading import feedback

SCHEMA_VERSION = "1.0"

CATEGORIES = ("shape", "value", "gradient", "invariant", "training", "perplexity", "error-handling")
"""What a test checks; set with ``@pytest.mark.category(...)``."""

STATUSES = ("passed", "partial", "failed", "not-implemented", "timeout", "crash", "forbidden",
            "error")
"""How a test ended. ``error`` means the test itself broke (an instructor bug), not the student."""

FAILURE_CLASSES = (
    "shape", "dtype", "value", "gradient", "invariant", "causality", "threshold",
    "error-handling", "timeout", "crash", "not-implemented", "forbidden", "exception", "internal",
    "refused",
)
"""Why a test failed; the only detail a hidden test reveals besides its hint."""


@dataclass
class TestResult:
    """One graded test. ``earned`` lies in ``[0, points]``."""

    name: str
    nodeid: str
    category: str
    visibility: str  # "public" | "hidden"
    points: float
    earned: float
    status: str
    failure_class: str | None = None
    feedback: str = ""
    duration_s: float = 0.0

    __test__ = False  # not a pytest test class


@dataclass
class AssignmentResult:
    """All tests of one assignment, with its totals and time budget."""

    name: str
    tests: list[TestResult] = field(default_factory=list)
    duration_s: float = 0.0
    time_budget_s: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def points(self) -> float:
        return sum(t.points for t in self.tests)

    @property
    def earned(self) -> float:
        return sum(t.earned for t in self.tests)


@dataclass
class Report:
    """A whole grading run. ``official`` is False for self-checks and debug runs."""

    assignments: list[AssignmentResult]
    official: bool
    environment: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    schema_version: str = SCHEMA_VERSION

    @property
    def points(self) -> float:
        return sum(a.points for a in self.assignments)

    @property
    def earned(self) -> float:
        return sum(a.earned for a in self.assignments)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for the JSON report, totals included."""
        return {
            "schema_version": self.schema_version,
            "official": self.official,
            "created": self.created,
            "earned": round(self.earned, 6),
            "points": round(self.points, 6),
            "environment": self.environment,
            "assignments": [
                {
                    "name": a.name,
                    "earned": round(a.earned, 6),
                    "points": round(a.points, 6),
                    "duration_s": round(a.duration_s, 3),
                    "time_budget_s": a.time_budget_s,
                    "notes": list(a.notes),
                    "tests": [dataclasses.asdict(t) for t in a.tests],
                }
                for a in self.assignments
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        """Inverse of :meth:`to_dict` (totals are recomputed, not read; invalid Unicode is
        replaced, so every format can render what was read)."""
        data = feedback.valid_unicode(data)
        fields = {f.name for f in dataclasses.fields(TestResult)}
        assignments = [
            AssignmentResult(
                name=a["name"],
                tests=[TestResult(**{k: v for k, v in t.items() if k in fields})
                       for t in a["tests"]],
                duration_s=a.get("duration_s", 0.0),
                time_budget_s=a.get("time_budget_s"),
                notes=list(a.get("notes", [])),
            )
            for a in data["assignments"]
        ]
        return cls(
            assignments=assignments,
            official=data["official"],
            environment=data.get("environment", {}),
            created=data.get("created", ""),
            schema_version=data.get("schema_version", SCHEMA_VERSION),
        )
