"""What a grade's fingerprint hashes, and what the trusted process reads of a submission."""

from __future__ import annotations

from pathlib import Path

from autograder.grading.config import Course
from autograder.grading.forbidden import scan_package
from autograder.grading.runner import suite_hash
from autograder.grading.seeds import tree_hash


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


def test_symlinks_in_a_submission_are_neither_scanned_nor_hashed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.py"
    outside.write_text("import torch\ntorch.softmax(x, 0)\n")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("y = 1\n")
    before = tree_hash(package, (".py",))
    (package / "link.py").symlink_to(outside)
    assert scan_package(package, ("torch.softmax",)) == []
    assert tree_hash(package, (".py",)) == before
