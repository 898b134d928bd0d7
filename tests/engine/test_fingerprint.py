"""What a grade's fingerprint hashes, and what the trusted process reads of a submission."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.config import Course
from autograder.grading.forbidden import analyse
from autograder.grading.runner import suite_hash
from autograder.sandbox.intake import IntakeLimits, read_package


def test_suite_hash_covers_only_the_graded_assignments(make_course) -> None:
    root = make_course("x = 1\n", "def test_a():\n    pass\n")
    course = Course(root)
    before = suite_hash(course, ["demo"])
    (root / "tests" / "engine").mkdir()
    (root / "tests" / "engine" / "test_other.py").write_text("def test_b():\n    pass\n")
    assert suite_hash(course, ["demo"]) == before
    (root / "tests" / "public" / "demo" / "snapshots").mkdir()
    (root / "tests" / "public" / "demo" / "snapshots" / "k.snap").write_bytes(b"\0")
    assert suite_hash(course, ["demo"]) != before


def _digest(root: Path) -> str:
    return read_package(root, ("assignments", "demo"), IntakeLimits()).digest()


def test_the_submission_hash_covers_every_file_the_worker_receives(tmp_path: Path) -> None:
    """A data file the submission reads (weights, a vocabulary) changes the hash, and so the
    hidden seeds, exactly like a source file; skipped names (caches, dot-files) do not."""
    package = tmp_path / "assignments" / "demo"
    (package / "data").mkdir(parents=True)
    (package / "__init__.py").write_text("import torch\n\nWEIGHTS = 'data/w.bin'\n")
    (package / "data" / "w.bin").write_bytes(b"\x00\x01\x02\x03")
    before = _digest(tmp_path)
    assert _digest(tmp_path) == before  # deterministic
    (package / "data" / "w.bin").write_bytes(b"\x00\x01\x02\x04")  # one byte of a non-.py file
    changed = _digest(tmp_path)
    assert changed != before
    (package / "data" / "w.bin").rename(package / "data" / "v.bin")  # same bytes, other name
    assert _digest(tmp_path) not in (before, changed)
    (package / "data" / "v.bin").rename(package / "data" / "w.bin")
    assert _digest(tmp_path) == changed
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"cache")
    (package / ".ipynb_checkpoints").mkdir()
    (package / ".ipynb_checkpoints" / "nb.py").write_text("torch.softmax(x, 0)\n")
    assert _digest(tmp_path) == changed


def test_the_static_scan_reads_what_the_intake_read(tmp_path: Path) -> None:
    """The "from scratch" scan covers every .py file of the intake (sub-folders included) and
    nothing the intake skipped."""
    package = tmp_path / "assignments" / "demo"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("y = 1\n")
    (package / "sub" / "helper.py").write_text("import torch\n\nz = torch.softmax(x, 0)\n")
    (package / ".hidden.py").write_text("import torch\n\nz = torch.softmax(x, 0)\n")
    intake = read_package(tmp_path, ("assignments", "demo"), IntakeLimits())
    assert sorted(intake.files) == ["__init__.py", "sub/helper.py"]
    found = analyse(intake.files, intake.package, ("torch.softmax",)).violations
    assert [str(v) for v in found] and all("sub/helper.py" in str(v) for v in found)
