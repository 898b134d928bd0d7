"""What crosses the pipe cannot leak hidden material or stop a grade from completing.

* A stub smuggling a hidden test's inputs out through what the grader shows (exception
  messages, its own exception class names, forged traceback frames, a NotImplementedError's
  message) shows none of them: hidden feedback is built from the trusted copy of the submission.
* The worker's random state is a one-way function of the test's seed, and held-out data has a
  seed of its own (``heldout_seed``).
* A table of the public snapshots earns the student's self-check but no official point: where
  the reference is present, public tests draw their inputs from a secret seed.
* Malformed, hostile and out-of-order frames written straight into the protocol cost the test
  that was running, never the report; the trusted side's decoding is fuzzed with hypothesis.
* Invalid Unicode (lone surrogates) renders in every format, and ``summary`` and ``sign`` take
  it.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_signing import make_report  # tests/engine is on sys.path

from autograder import cli
from autograder.common import wire
from autograder.grading import feedback, seeds
from autograder.grading.config import Course
from autograder.grading.errors import SubmissionError, remote_exception
from autograder.grading.proxy import _checked_answer
from autograder.grading.report import Report
from autograder.grading.snapshots import read_snapshot, record_snapshots
from autograder.results import formats, signing

SMUGGLER = """
    import traceback


    class Carrier(Exception):
        pass


    def by_message(x):
        raise ValueError("inputs: " + repr(x.tolist()))


    def by_class_name(x):
        digits = "".join(c for c in repr(x.tolist()) if c.isdigit())[:40]
        raise type("Leak_" + digits, (Exception,), {})()


    def by_forged_frames(x):
        text = repr(x.tolist())
        real = traceback.extract_tb

        def forged(tb, limit=None):
            traceback.extract_tb = real  # once
            frames = real(tb, limit)
            for f in frames:
                f.name, f._line = "leak_" + text[:60], text
            fake = traceback.FrameSummary(frames[-1].filename, 1, "x" + text[:60], line=text)
            fake._line = text
            return traceback.StackSummary.from_list([*frames, fake])

        traceback.extract_tb = forged
        raise ValueError(text)


    def not_yet(x):
        raise NotImplementedError("TODO " + repr(x.tolist()))


    def initial_seed():
        import torch

        return torch.initial_seed()


    def deep(n):  # each frame's line could be chosen to carry bits out: few are shown
        if n:
            return deep(n - 1)
        raise ValueError("bottom")
    """

SMUGGLER_TESTS = """
    import json
    import os

    import pytest
    import torch


    def record(name, x):
        with open(os.environ["LLMSOC_TEST_OUT"] + "." + name, "w") as f:
            json.dump(x.tolist(), f)


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.parametrize("how", ["by_message", "by_class_name", "by_forged_frames",
                                     "not_yet"])
    def test_smuggle(submission, rng, how):
        x = torch.randint(100_000, 999_999, (6,), generator=rng)
        record(how, x)
        getattr(submission, how)(x)


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_deep(submission):
        submission.deep(30)


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_seed(submission, seed, heldout_seed):
        with open(os.environ["LLMSOC_TEST_OUT"] + ".seed", "w") as f:
            json.dump([seed, submission.initial_seed(), heldout_seed], f)
    """


@pytest.fixture(scope="module")
def smuggled(make_course, grade, tmp_path_factory):
    public = SMUGGLER_TESTS.replace("def test_smuggle", "def test_smuggle_public").replace(
        "record(how, x)", 'record("public-" + how, x)').replace("def test_seed", "def _unused")
    root = make_course(SMUGGLER, SMUGGLER_TESTS, public={"test_public.py": public})
    out = tmp_path_factory.mktemp("smuggled") / "inputs"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMSOC_TEST_OUT", str(out))
        graded = grade(root)
    return graded, out


def _numbers(path: Path) -> list[str]:
    return [str(v) for v in json.loads(path.read_text())]


@pytest.mark.parametrize("how", ["by_message", "by_class_name", "by_forged_frames", "not_yet"])
def test_hidden_feedback_carries_no_input(smuggled, how: str) -> None:
    """Whatever channel the stub tries, none of the six hidden inputs reaches the feedback."""
    graded, out = smuggled
    hidden = graded[f"test_smuggle[{how}]"]
    assert hidden.earned == 0
    numbers = _numbers(Path(f"{out}.{how}"))
    digits = re.sub(r"\D", "", hidden.feedback)
    assert not any(n in hidden.feedback or n in digits for n in numbers), hidden.feedback
    assert not re.search(r"[Ll]eak_\d", hidden.feedback)  # no class or function named by data


def test_hidden_feedback_still_says_where(smuggled) -> None:
    """File, line, function and source come from the grader's own copy of the package."""
    graded, _ = smuggled
    text = graded["test_smuggle[by_message]"].feedback
    assert 'File "demo/__init__.py", line 9, in by_message' in text
    assert 'raise ValueError("inputs: " + repr(x.tolist()))' in text
    assert "ValueError" in text and "message is not shown" in text
    forged = graded["test_smuggle[by_forged_frames]"].feedback
    assert "in by_forged_frames" in forged and "raise ValueError(text)" in forged
    assert "an exception of a class your code defines" in graded[
        "test_smuggle[by_class_name]"].feedback
    assert "line 35, in not_yet" in graded["test_smuggle[not_yet]"].feedback


def test_hidden_feedback_shows_few_frames(smuggled) -> None:
    """A hidden traceback shows the innermost frames only (feedback.HIDDEN_FRAMES)."""
    graded, _ = smuggled
    text = graded["test_deep"].feedback
    assert text.count('File "demo/__init__.py"') == feedback.HIDDEN_FRAMES
    assert "in deep" in text and "ValueError\n(the message is not shown" in text


def test_public_feedback_keeps_its_detail(smuggled) -> None:
    graded, out = smuggled
    public = graded["test_smuggle_public[by_message]"]
    assert all(n in public.feedback for n in _numbers(Path(f"{out}.public-by_message")))


def test_the_worker_cannot_learn_its_seed(smuggled) -> None:
    graded, out = smuggled
    seed, initial, heldout = json.loads(Path(f"{out}.seed").read_text())
    assert graded["test_seed"].status == "passed"
    assert initial == seeds.worker_seed(seed) and initial not in (seed, seed % 2**32)
    # held-out data has its own stream: neither seed tells anything about it
    nodeid = "tests/hidden/demo/test_x.py::test_seed"
    secret = seeds.course_secret()[0]
    digest = graded.report.environment["submission_hash"]["demo"]
    assert heldout == seeds.hidden_seed(secret, digest, f"heldout|{nodeid}") != seed


# ----------------------------------------------------------------------------- snapshot tables

SNAPSHOT_TEST = """
    import pytest

    from autograder.grading import checks


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_scale_public(submission, snapshot, inputs):
        x, k = inputs.wave(6), inputs.uniform(1.0, 3.0)
        expected = snapshot("scale", lambda ref: ref.scale(x, k))
        checks.assert_close(submission.scale(x, k), expected, atol=1e-6)
    """


def test_a_snapshot_table_earns_no_official_point(make_course, grade) -> None:
    """The lookup table scores in the self-check (where snapshots are the expected values) and
    loses the point in the official grade; the reference keeps it there."""
    course = make_course("", public=SNAPSHOT_TEST)
    record_snapshots(Course(course), "demo")
    table = read_snapshot(course / "tests/public/demo/snapshots/test_public.scale.snap")
    lookup = f"""
        import torch

        def scale(x, k):
            return torch.tensor({table.tolist()!r})
        """
    with_table = make_course(lookup, public=SNAPSHOT_TEST)
    shutil.copytree(course / "tests/public/demo/snapshots",
                    with_table / "tests/public/demo/snapshots")
    reference_graded = grade(with_table, submission=with_table / "solutions" / "demo")
    assert reference_graded["test_scale_public"].status == "passed"
    assert grade(with_table)["test_scale_public"].status == "failed"
    shutil.rmtree(with_table / "solutions")  # now a student's repository: snapshots apply
    assert grade(with_table, official=False)["test_scale_public"].status == "passed"


# ----------------------------------------------------------------------------- hostile frames

HOSTILE = """
    import os
    import stat

    from autograder.common import wire


    def _protocol_fds():
        for fd in range(3, 64):
            try:
                mode = os.fstat(fd).st_mode
            except OSError:
                continue
            if stat.S_ISFIFO(mode) and os.get_blocking(fd) is not None:
                yield fd


    def inject(kind):
        frames = {
            "error-not-a-dict": {"error": "boom", "seq": None},
            "error-missing-keys": {"error": {"type": 1}, "seq": None},
            "bad-types": {"ok": 1, "types": {"x": 5}, "seq": None},
            "out-of-order": {"ok": 123, "seq": 10_000},
            "no-seq": {"ok": 123},
        }
        for fd in _protocol_fds():
            try:
                if kind == "garbage":
                    os.write(fd, b"\\xff" * 64)
                elif kind == "huge-header":
                    os.write(fd, (2**31).to_bytes(4, "little") + (0).to_bytes(4, "little"))
                else:
                    header, bufs = wire.encode(frames[kind])
                    wire.write_message(fd, header, bufs)
            except OSError:
                pass
        return 0


    def add(a, b):
        return a + b
    """

KINDS = ["error-not-a-dict", "error-missing-keys", "bad-types", "out-of-order", "no-seq",
         "garbage", "huge-header"]

HOSTILE_TESTS = f"""
    import pytest


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.parametrize("kind", {KINDS!r})
    def test_inject(submission, kind):
        assert submission.inject(kind) == 0


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_zz_after(submission):
        assert submission.add(2, 3) == 5
    """


def test_hostile_frames_cost_one_test_each(make_course, grade) -> None:
    """Each injected frame costs the test that was running (a crash); the grade completes and
    the worker, restarted, answers the next test."""
    graded = grade(make_course(HOSTILE, HOSTILE_TESTS, forbidden=()))
    for kind in KINDS:
        t = graded[f"test_inject[{kind}]"]
        assert (t.status, t.earned) == ("crash", 0), (kind, t.feedback)
    assert graded["test_zz_after"].status == "passed"
    assert graded.report.assignments[0].notes  # the restarts are reported


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)
frame_like = st.dictionaries(
    st.sampled_from(["ok", "error", "types", "seq", "hello", "callables", "x"]), json_values,
    max_size=5)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer=json_values | frame_like, seq=st.none() | st.integers(0, 3))
def test_checked_answer_accepts_or_refuses_cleanly(answer, seq) -> None:
    try:
        checked = _checked_answer(answer, seq)
    except ValueError:
        return
    assert isinstance(checked, dict) and checked.get("seq") == seq


@settings(max_examples=300, deadline=None)
@given(header=st.binary(max_size=200))
def test_decoding_any_header_raises_only_encoding_errors(header: bytes) -> None:
    try:
        wire.decode(header, [], lambda node: node)
    except (wire.EncodingError, ValueError, TypeError, KeyError, RecursionError):
        pass


@settings(max_examples=300, deadline=None)
@given(type_name=json_values, message=json_values, frames=json_values)
def test_any_error_frame_becomes_a_clean_exception(type_name, message, frames) -> None:
    exc = remote_exception(type_name, message, frames)
    assert isinstance(exc, SubmissionError) and exc.type_name.isidentifier()
    text = exc.student_traceback()
    text.encode("utf-8")  # valid Unicode, whatever came in
    assert len(exc.message) <= feedback.MAX_TEXT + 4


# ----------------------------------------------------------------------------- invalid Unicode

SURROGATES = "bad \ud800 text \udcff end"


@pytest.mark.parametrize("fmt", formats.FORMATS)
def test_invalid_unicode_renders_in_every_format(fmt: str) -> None:
    data = make_report(official=True)
    data["assignments"][0]["tests"][0]["feedback"] = SURROGATES
    data["assignments"][0]["tests"][0]["name"] = "test_\udc80"
    text = formats.render(Report.from_dict(data), fmt)
    text.encode("utf-8")


def test_summary_and_sign_take_invalid_unicode(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    data = make_report(official=True)
    data["assignments"][0]["tests"][0]["feedback"] = SURROGATES
    report = tmp_path / "report.json"
    report.write_text(json.dumps(data))  # escapes \ud800 as JSON allows
    assert cli.main(["summary", str(report)]) == 0
    key = signing.generate_key()
    (tmp_path / "k.pem").write_text(signing.private_key_pem(key))
    out = tmp_path / "result.json"
    assert cli.main(["sign", str(report), "--repository", "org/repo", "--commit", "a" * 40,
                     "--key", str(tmp_path / "k.pem"), "--out", str(out)]) == 0
    pub = tmp_path / "k.pub"
    pub.write_text(signing.public_key_line(key.public_key()))
    assert cli.main(["verify", str(out), "--public-key", str(pub)]) == 0
    capsys.readouterr()
