"""The pytest plugin (autograder/plugin.py) through the runner: markers, partial credit, what
feedback shows for public and hidden tests, per-submission seeds and snapshots."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from autograder.grading import seeds
from autograder.grading.config import Course
from autograder.grading.runner import run
from autograder.grading.snapshots import read_snapshot, write_snapshot
from autograder.sandbox import host
from autograder.sandbox.intake import IntakeLimits, read_package

SECRET_VALUE = 987654321
COURSE_SECRET = "plugin-test-course-secret-0123456789"  # official: >= 32 characters

SUBMISSION = """
    import random

    import numpy as np
    import torch


    def add(a, b):
        print("debug: adding", a, b)
        return a - b  # wrong on purpose


    def scale(x, k):
        return x * k


    def boom(x):
        raise ValueError(f"cannot handle {x!r}")


    def draw():
        return [torch.randint(0, 2**31 - 1, (1,)).item(), random.random(),
                float(np.random.rand())]
    # one byte to change: a
    """

LOGGER = """

    def log(**record):
        import json
        import os

        with open(os.environ["LLMSOC_TEST_SEED_LOG"], "a") as f:
            f.write(json.dumps(record) + "\\n")
    """

PUBLIC = f"""
    import pytest
    import torch

    from autograder.grading import checks

    SECRET = {SECRET_VALUE}


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    @pytest.mark.hint("public hint: add the numbers")
    def test_public_add(submission):
        got = submission.add(SECRET, 1)
        assert got == SECRET + 1, f"expected {{SECRET + 1}}, got {{got}}"


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.hint("public hint: compare tensors")
    def test_public_close(submission):
        x = torch.full((3,), 5.0)
        checks.assert_close(submission.add(x, x), x + x)


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_public_seeded(submission, seed, rng):
        log(test="public", seed=seed, worker=submission.draw(),
            rng=torch.randint(0, 2**31 - 1, (1,), generator=rng).item())
    """ + LOGGER

HIDDEN = f"""
    import pytest
    import torch

    from autograder.grading import checks

    SECRET = {SECRET_VALUE}


    @pytest.mark.points(3)
    @pytest.mark.category("value")
    @pytest.mark.hint("hidden hint: check the sign")
    def test_hidden_add(submission):
        got = submission.add(SECRET, 1)
        checks.expect(got == SECRET + 1, "value", f"expected {{SECRET + 1}}, got {{got}}")


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    @pytest.mark.hint("hidden hint: compare tensors")
    def test_hidden_close(submission, reference):
        x = torch.full((3,), 123456.0)
        checks.assert_close(submission.add(x, x), reference.add(x, x))


    @pytest.mark.points(4)
    @pytest.mark.category("value")
    def test_partial(submission, credit):
        x = torch.arange(3.0)
        ok = [torch.equal(submission.scale(x, k), x * k) for k in (1, 2)]
        ok += [submission.add(1, 1) == 2, submission.add(2, 2) == 4]
        credit(sum(ok) / len(ok), f"{{sum(ok)}} of {{len(ok)}} cases")


    @pytest.mark.points(1)
    @pytest.mark.category("error-handling")
    @pytest.mark.hint("hidden hint: reject bad input")
    def test_hidden_input_stays_hidden(submission):
        submission.boom(SECRET + 7)


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_hidden_seeded(submission, seed, rng):
        log(test="hidden", seed=seed, worker=submission.draw(),
            rng=torch.randint(0, 2**31 - 1, (1,), generator=rng).item())
    """ + LOGGER

REFERENCE = """
    def add(a, b):
        return a + b


    def scale(x, k):
        return x * k
    """


def secret_digits(text: str) -> list[str]:
    return [s for s in (str(SECRET_VALUE), str(SECRET_VALUE + 1), str(SECRET_VALUE - 1),
                        str(SECRET_VALUE + 7), "123456", "246912") if s in text]


@pytest.fixture(scope="module")
def plugin_runs(make_course, grade, tmp_path_factory):
    """The same course graded five times: as is, again, with one byte of the submission
    changed, under another course secret, and as a student's repository (no reference).
    Returns (root, [(graded, seed log)])."""
    root = make_course(SUBMISSION, HIDDEN, public=PUBLIC, reference=REFERENCE)
    logs = tmp_path_factory.mktemp("seedlogs")
    package = root / "assignments" / "demo" / "__init__.py"
    original = package.read_text()
    runs = []
    with pytest.MonkeyPatch.context() as mp:
        changed = original.replace("change: a", "change: b")
        assert len(changed) == len(original) and changed != original
        for i, (source, secret) in enumerate([(original, COURSE_SECRET),
                                              (original, COURSE_SECRET),
                                              (changed, COURSE_SECRET),
                                              (original, COURSE_SECRET + "-other")]):
            package.write_text(source)
            log = logs / f"run{i}.jsonl"
            mp.setenv("LLMSOC_SECRET", secret)
            mp.setenv("LLMSOC_TEST_SEED_LOG", str(log))
            graded = grade(root)
            records = {r["test"]: r for r in map(json.loads, log.read_text().splitlines())}
            runs.append((graded, records))
        package.write_text(original)
        mp.setenv("LLMSOC_SECRET", COURSE_SECRET)
        log = logs / "student.jsonl"
        mp.setenv("LLMSOC_TEST_SEED_LOG", str(log))
        (root / "solutions").rename(root / "solutions-away")
        try:
            graded = grade(root, official=False)
        finally:
            (root / "solutions-away").rename(root / "solutions")
        runs.append((graded, {r["test"]: r for r in map(json.loads,
                                                         log.read_text().splitlines())}))
    return root, runs


@pytest.fixture(scope="module")
def first(plugin_runs):
    return plugin_runs[1][0][0]


def test_scores_and_statuses(first) -> None:
    got = {name: (t.status, t.earned, t.points) for name, t in first.tests.items()}
    assert got == {
        "test_public_add": ("failed", 0, 2), "test_public_close": ("failed", 0, 1),
        "test_public_seeded": ("passed", 1, 1),
        "test_hidden_add": ("failed", 0, 3), "test_hidden_close": ("failed", 0, 2),
        "test_partial": ("partial", 2.0, 4), "test_hidden_input_stays_hidden": ("failed", 0, 1),
        "test_hidden_seeded": ("passed", 1, 1),
    }
    assert {t.visibility for n, t in first.tests.items() if "public" in n} == {"public"}
    assert {t.visibility for n, t in first.tests.items() if "public" not in n} == {"hidden"}


def test_partial_credit(first) -> None:
    t = first["test_partial"]
    assert t.earned == 2.0 and t.feedback == "partial credit 50%: 2 of 4 cases"


def test_public_feedback_shows_details(first) -> None:
    t = first["test_public_close"]
    assert t.failure_class == "value"
    assert t.feedback.startswith("the value check failed\noutput: 3 of 3 values differ")
    assert "Hint: public hint: compare tensors" in t.feedback
    assert "Your code printed:\ndebug: adding tensor([5., 5., 5.]) tensor([5., 5., 5.])" in (
        t.feedback)


def test_public_feedback_shows_the_assertion_message(first) -> None:
    t = first["test_public_add"]
    assert t.failure_class == "value"
    assert "Hint: public hint: add the numbers" in t.feedback
    assert f"expected {SECRET_VALUE + 1}, got {SECRET_VALUE - 1}" in t.feedback


def test_hidden_feedback_hides_values_but_shows_the_hint(first) -> None:
    add, close = first["test_hidden_add"], first["test_hidden_close"]
    assert add.failure_class == "value" and close.failure_class == "value"
    assert add.feedback == "the value check failed\nHint: hidden hint: check the sign"
    assert close.feedback == "the value check failed\nHint: hidden hint: compare tensors"
    for t in first.tests.values():
        if t.visibility == "hidden":
            assert "SECRET" not in t.feedback and "debug: adding" not in t.feedback
            assert secret_digits(t.feedback) == []


def test_hidden_inputs_do_not_leak_through_student_exceptions(first) -> None:
    t = first["test_hidden_input_stays_hidden"]
    assert t.status == "failed" and "Hint: hidden hint: reject bad input" in t.feedback
    assert secret_digits(t.feedback) == []


def _nodeid(visibility: str) -> str:
    module = "test_public.py" if visibility == "public" else "test_x.py"
    return f"tests/{visibility}/demo/{module}::test_{visibility}_seeded"


def test_seeds(plugin_runs) -> None:
    root, runs = plugin_runs
    (_, base), (_, again), (_, changed), (_, other_secret), (_, student) = runs
    # public, where snapshots are the expected values (no reference): fixed
    public = student["public"]["seed"]
    assert public == seeds.public_seed(_nodeid("public"))
    # hidden, and public where the reference is present: HMAC(course secret, submission hash |
    # test); same submission, same seed
    assert again["hidden"] == base["hidden"] and again["public"] == base["public"]
    digest = read_package(root, ("assignments", "demo"), IntakeLimits()).digest()
    secret = COURSE_SECRET.encode()
    assert base["hidden"]["seed"] == seeds.hidden_seed(secret, digest, _nodeid("hidden"))
    assert base["public"]["seed"] == seeds.hidden_seed(secret, digest,
                                                       "public|" + _nodeid("public"))
    assert len({base["hidden"]["seed"], changed["hidden"]["seed"],
                other_secret["hidden"]["seed"], public, base["public"]["seed"],
                changed["public"]["seed"], other_secret["public"]["seed"]}) == 7
    for records in (base, changed):
        for r in records.values():  # rng follows the test's seed, the worker a one-way image
            assert r["rng"] == torch.randint(
                0, 2**31 - 1, (1,), generator=torch.Generator().manual_seed(r["seed"])).item()
            g = torch.Generator().manual_seed(seeds.worker_seed(r["seed"]))
            assert r["worker"][0] == torch.randint(0, 2**31 - 1, (1,), generator=g).item()
    assert changed["hidden"]["worker"] != base["hidden"]["worker"]


def test_seed_mode_is_reported(plugin_runs) -> None:
    _, runs = plugin_runs
    env = runs[0][0].report.environment
    assert env["seed_mode"] == ("hidden tests: HMAC(course secret, submission hash); "
                                "secret from LLMSOC_SECRET")
    assert runs[0][0].report.official is host.probe().isolated


# ----------------------------------------------------------------------------- usage errors

GOOD_MARKERS = '@pytest.mark.points(1)\n@pytest.mark.category("value")\n'


@pytest.mark.parametrize("markers", [
    '@pytest.mark.category("value")\n',
    "@pytest.mark.points(1)\n",
    '@pytest.mark.points(1)\n@pytest.mark.category("vibes")\n',
    '@pytest.mark.points(-1)\n@pytest.mark.category("value")\n',
], ids=["no-points", "no-category", "unknown-category", "negative-points"])
def test_missing_or_bad_markers_are_a_usage_error(make_course, grade, markers: str) -> None:
    hidden = ("import pytest\n\n\n" + GOOD_MARKERS + "def test_ok(submission):\n    pass\n\n\n"
              + markers + "def test_bad(submission):\n    pass\n")
    root = make_course("def add(a, b):\n    return a + b\n", hidden)
    with pytest.raises(RuntimeError, match="exit code 4"):
        grade(root)


def test_usage_error_says_what_is_wrong(make_course, grade) -> None:
    hidden = "import pytest\n\n\n@pytest.mark.points(1)\ndef test_bad(submission):\n    pass\n"
    root = make_course("def add(a, b):\n    return a + b\n", hidden)
    with pytest.raises(RuntimeError, match=r"test_bad: needs @pytest.mark.category"):
        grade(root)


def test_well_marked_tests_are_fine(make_course, grade) -> None:
    """Control for the usage errors: the same course with good markers grades."""
    hidden = "import pytest\n\n\n" + GOOD_MARKERS + "def test_ok(submission):\n    pass\n"
    graded = grade(make_course("def add(a, b):\n    return a + b\n", hidden))
    assert {n: t.status for n, t in graded.tests.items()} == {"test_ok": "passed"}


# ----------------------------------------------------------------------------- snapshots

SNAP_PUBLIC = """
    import pytest
    import torch

    from autograder.grading import checks


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_snap_intact(submission, snapshot):
        x = torch.linspace(-1, 1, 5)
        expected = snapshot("intact", lambda ref: {"y": ref.scale(x, 3.0), "n": 5})
        assert expected["n"] == 5
        checks.assert_close(submission.scale(x, 3.0), expected["y"])


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_snap_tampered(submission, snapshot):
        x = torch.arange(4.0)
        expected = snapshot("tampered", lambda ref: ref.scale(x, 2.0))
        checks.assert_close(submission.scale(x, 2.0), expected)
    """


def test_snapshots_recorded_then_read_without_solutions(make_course, grade, tmp_path) -> None:
    root = make_course("def scale(x, k):\n    return x * k\n", public=SNAP_PUBLIC)
    recorded = grade(root, record_snapshots=True, public_only=True)
    assert {n: t.status for n, t in recorded.tests.items()} == {
        "test_snap_intact": "passed", "test_snap_tampered": "passed"}
    folder = root / "tests" / "public" / "demo" / "snapshots"
    assert sorted(p.name for p in folder.iterdir()) == [
        "test_public.intact.snap", "test_public.tampered.snap"]
    intact = read_snapshot(folder / "test_public.intact.snap")
    assert intact.keys() == {"y", "n"} and intact["n"] == 5
    assert torch.equal(intact["y"], torch.linspace(-1, 1, 5) * 3.0)
    assert torch.equal(read_snapshot(folder / "test_public.tampered.snap"), torch.arange(4.0) * 2)

    student = tmp_path / "student"
    shutil.copytree(root, student, ignore=shutil.ignore_patterns("solutions", "hidden"))
    assert not Course(student).has_solutions("demo")
    write_snapshot(student / "tests" / "public" / "demo" / "snapshots" /
                   "test_public.tampered.snap", torch.zeros(4))
    graded = grade(student, public_only=True)
    assert {n: (t.status, t.earned) for n, t in graded.tests.items()} == {
        "test_snap_intact": ("passed", 1), "test_snap_tampered": ("failed", 0)}
    assert graded["test_snap_tampered"].failure_class == "value"


def test_reading_snapshots_does_not_write_them(make_course, grade) -> None:
    root = make_course("def scale(x, k):\n    return x * k\n", public=SNAP_PUBLIC)
    graded = grade(root, public_only=True)
    assert graded["test_snap_intact"].status == "passed"
    assert not (root / "tests" / "public" / "demo" / "snapshots").exists()


# ----------------------------------------------------------------------------- two courses

TWO_COURSES_TEST = """
    import pytest


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_{name}(submission, reference):
        assert submission.value() == reference.value()
    """


@pytest.fixture(scope="module")
def two_courses(make_course, forget_course_modules):
    """Two courses graded one after the other in this process, without clearing modules."""
    roots = [make_course("def value():\n    return 2\n",
                         TWO_COURSES_TEST.replace("{name}", name),
                         reference=f"def value():\n    return {ref}\n")
             for name, ref in (("first", 1), ("second", 2))]
    forget_course_modules()
    try:
        reports = [run(Course(r), ["demo"], official=host.probe().isolated) for r in roots]
    finally:
        forget_course_modules()
    return [{t.name: t.status for t in rep.assignments[0].tests if "static" not in t.nodeid}
            for rep in reports]


def test_first_of_two_courses(two_courses) -> None:
    assert two_courses[0] == {"test_first": "failed"}


def test_second_of_two_courses_runs_its_own_tests_and_reference(two_courses) -> None:
    assert two_courses[1] == {"test_second": "passed"}
