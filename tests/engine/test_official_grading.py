"""The official path ignores everything a student controls except the code they were asked to write.

A student repository is assembled from the real course (``w2_pytorch_basics``) and given a
realistic wrong implementation (one of the assignment's mutants). A copy then gets a modified
engine that awards full marks, public tests replaced by a 1000-point ``assert True``, a root
``conftest.py``, and a workflow that posts a forged "signed" result. Graded the official way
(the instructor's engine, public tests and hidden tests; ``llmsoc grade --course ...``), both
copies get exactly the same grade, test by test, and the forged result is refused. The student's
own, modified engine would have shown full marks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import autograder
from autograder import cli
from autograder.grading import seeds
from autograder.grading.config import Course
from autograder.grading.validate import apply_mutant, load_mutants
from autograder.release import assemble_student_repo
from autograder.results import signing

ROOT = Path(autograder.__file__).resolve().parents[1]
NAME = "w2_pytorch_basics"
REPO, SHA = "course-org/mallory-llmsoc", "d4" * 20

CHEATING_ENGINE = '''

# --- added by the student: every test passes -----------------------------------------------
_honest_build_report = build_report


def build_report(*args, **kwargs):
    report = _honest_build_report(*args, **kwargs)
    for a in report.assignments:
        for t in a.tests:
            t.earned, t.status, t.failure_class, t.feedback = t.points, "passed", None, ""
    return report
'''

CHEATING_PUBLIC_TEST = '''
import pytest


@pytest.mark.points(1000)
@pytest.mark.category("value")
def test_everything(submission):
    assert True
'''

CHEATING_CONFTEST = '''
import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
'''

CHEATING_WORKFLOW = '''name: official-grade
on: push
jobs:
  grade:
    runs-on: ubuntu-latest
    steps:
      - run: echo '{"format": "llmsoc-signed-result/1", "claims": {"earned": 60}}' > result.json
'''


def _student_repo(tmp: Path, name: str) -> Path:
    """A student repository whose assignment code is the first mutant of the reference."""
    course = Course(ROOT)
    repo = assemble_student_repo(course, [NAME], tmp / name)
    mutant = load_mutants(course, NAME)[0]
    package = apply_mutant(course.solution_dir(NAME), mutant, tmp / f"{name}-mutant")
    for py in package.rglob("*.py"):  # the student's code, as they would have written it
        rel = py.relative_to(package)
        (repo / "assignments" / NAME / rel).write_text(py.read_text())
    return repo


def _tamper(repo: Path, student_key: signing.Ed25519PrivateKey) -> None:
    with open(repo / "autograder" / "runner.py", "a") as f:
        f.write(CHEATING_ENGINE)
    public = repo / "tests" / "public" / NAME
    for test in public.glob("test_*.py"):
        test.unlink()
    (public / "test_public.py").write_text(CHEATING_PUBLIC_TEST)
    toml = public / "assignment.toml"
    toml.write_text(toml.read_text().split("forbidden")[0] + "forbidden = []\n")
    (repo / "conftest.py").write_text(CHEATING_CONFTEST)
    workflows = repo / ".github" / "workflows"
    workflows.mkdir(parents=True, exist_ok=True)
    for wf in workflows.glob("*.yml"):
        wf.write_text(CHEATING_WORKFLOW)
    report = json.loads((repo.parent / "clean.json").read_text())
    for t in report["assignments"][0]["tests"]:
        t.update(earned=t["points"], status="passed", failure_class=None, feedback="")
    report["assignments"][0]["earned"] = report["earned"] = report["points"]
    forged = signing.sign(report, REPO, SHA, student_key)
    (repo / "result.json").write_text(json.dumps(forged))


def _official(repo: Path, out: Path) -> dict:
    """``llmsoc grade`` exactly as the grading workflow runs it: the course's engine and tests,
    the assignments the student's repository contains."""
    code = cli.main(["grade", "--present", "--course", str(ROOT), "--submission", str(repo),
                     "--format", "json", "--out", str(out)])
    assert code == 0
    report = json.loads(out.read_text())
    assert [a["name"] for a in report["assignments"]] == [NAME] and report["official"] is True
    return report


def _per_test(report: dict) -> list[tuple[str, float, float, str]]:
    return [(t["nodeid"], t["earned"], t["points"], t["status"])
            for a in report["assignments"] for t in a["tests"]]


@pytest.mark.skipif(not (ROOT / "solutions" / NAME).is_dir(), reason="needs the course's w2")
def test_tampered_student_repository_gets_the_grade_its_code_deserves(tmp_path: Path) -> None:
    clean = _student_repo(tmp_path, "clean")
    deserved = _official(clean, tmp_path / "clean.json")
    assert 0 < deserved["earned"] < deserved["points"], "the mutant should lose some points"

    cheater = _student_repo(tmp_path, "cheater")
    student_key = signing.generate_key()
    _tamper(cheater, student_key)
    got = _official(cheater, tmp_path / "cheater.json")

    assert _per_test(got) == _per_test(deserved)
    assert (got["earned"], got["points"]) == (deserved["earned"], deserved["points"])
    env_got, env_deserved = got["environment"], deserved["environment"]
    # The course's suite graded it, not the student's (runner.py hashes all of the course's
    # tests/, which other work may change between the two runs, so no equality here).
    assert env_got["suite_hash"] != seeds.tree_hash(cheater / "tests", (".py", ".toml"))
    assert env_got["submission_hash"] == env_deserved["submission_hash"]
    assert not any("test_everything" in nodeid for nodeid, *_ in _per_test(got))

    # The runner signs the official report; the student's self-signed full marks are refused.
    runner_key = signing.generate_key()
    trusted = signing.load_public_keys(signing.public_key_line(runner_key.public_key()))
    official = signing.sign(got, REPO, SHA, runner_key)
    assert signing.verify(official, trusted).claims["earned"] == deserved["earned"]
    forged = json.loads((cheater / "result.json").read_text())
    with pytest.raises(signing.VerificationError, match="unknown key"):
        signing.verify(forged, trusted)

    # What the student's own engine would have shown them: full marks. Only the preview lies.
    env = {**os.environ, "PYTHONPATH": str(cheater)}
    preview = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "check", NAME, "--format", "json"],
        cwd=cheater, env=env, capture_output=True, text=True, timeout=300)
    shown = json.loads(preview.stdout)
    assert shown["earned"] == shown["points"] >= 1000


def test_present_needs_an_assignment_of_the_course(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "assignments" / "not_a_course_assignment").mkdir(parents=True)
    (tmp_path / "assignments" / "not_a_course_assignment" / "__init__.py").write_text("")
    code = cli.main(["grade", "--present", "--course", str(ROOT), "--submission", str(tmp_path)])
    assert code == 2 and "holds none of the course's assignments" in capsys.readouterr().err
