"""Snapshots: expected values for public tests, recorded from the reference at release time.

A student's repository has no reference solution, so a public test asks the ``snapshot``
fixture for its expected values: ``snapshot("basic", lambda ref: ref.softmax(x))``. In the
course repository that computes the value from the reference (and ``llmsoc release`` writes it to
``tests/public/<name>/snapshots/<module>.<key>.snap``); in a student repository it reads the file.
Files use the pipe's encoding (:mod:`autograder.common.wire`), never pickle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from autograder.common import wire as encoding
from autograder.grading.config import Course


def record_snapshots(course: Course, name: str) -> list[str]:
    """Run the public tests against the reference in-process, writing every snapshot."""
    from autograder.grading.runner import run

    folder = course.public_tests(name) / "snapshots"
    if folder.is_dir():
        for old in folder.glob("*.snap"):
            old.unlink()
    report = run(course, [name], submission=course.solution_dir(name), public_only=True,
                 debug=True, record_snapshots=True)
    a = report.assignments[0]
    if a.earned < a.points:
        bad = [t.name for t in a.tests if t.earned < t.points]
        raise RuntimeError(f"{name}: the reference fails public tests {bad}; snapshots not "
                           "trustworthy")
    return [f"{name}: recorded {len(list(folder.glob('*.snap')))} snapshots"]


def write_snapshot(path: Path, value: Any) -> None:
    """Store ``value`` with the pipe's encoding (never pickle)."""
    header, bufs = encoding.encode(value)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        encoding.write_message(fd, header, bufs)
    finally:
        os.close(fd)


def read_snapshot(path: Path) -> Any:
    fd = os.open(path, os.O_RDONLY)
    try:
        header, bufs = encoding.read_message(fd)
    finally:
        os.close(fd)
    return encoding.decode(header, bufs)
