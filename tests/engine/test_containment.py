"""Adversarial submissions graded through the real runner: each loses exactly the points of the
tests it sabotages, the other tests' results are unchanged, and the grader survives.

Every course has ``call_timeout_s = 3``; the plugin starts workers with the default limits
(``memory_mb = 4096`` address space, ``max_pids = 64``). What only the sandbox (bubblewrap's
allow-listed root and namespaces, see autograder/sandbox) prevents is skipped, with the reason,
on a host where :func:`autograder.sandbox.host.probe` finds none. test_integrity.py has the
intake's refusals, what the worker can see, and the clean-up after a killed grader.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import autograder
from autograder.grading.errors import WorkerCrashed
from autograder.grading.proxy import Submission, Worker, WorkerOptions
from autograder.results import formats
from autograder.sandbox import host
from autograder.sandbox.intake import IntakeLimits, read_package

ENGINE_DIR = Path(autograder.__file__).resolve().parent
SECRET = "s3cr3t-grader-only-7d1e-0123456789abcdef"

HONEST_ADD = """
    import pytest
    import torch

    from autograder.grading import checks


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_add(submission, reference):
        assert submission.add(2, 3) == reference.add(2, 3)
    """

HONEST = HONEST_ADD + """

    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_scale(submission, reference, rng):
        x = torch.randn(3, 4, generator=rng)
        checks.assert_close(submission.scale(x, 1.5), reference.scale(x, 1.5))
    """

ADVERSARIAL_SUBMISSION = """
    import ctypes
    import os
    import socket
    import sys

    import torch

    # tampering with the worker's copies of torch and pytest at import
    torch.allclose = lambda *a, **k: True
    torch.equal = lambda *a, **k: True
    try:
        import pytest

        pytest.fail = lambda *a, **k: None
        pytest.approx = lambda expected, *a, **k: None
    except ImportError:
        pass


    def add(a, b):
        return a + b


    def scale(x, k):
        return x * k


    def wrong(x):
        return x + 1


    def spin():
        while True:
            pass


    def hog():
        return bytearray(50 << 30)


    def hog_torch():
        return torch.ones(50 << 30, dtype=torch.uint8).sum()


    def segfault():
        return ctypes.string_at(0)


    def peek(paths):
        seen = []
        for p in paths:
            try:
                seen.append(sorted(os.listdir(p)) if os.path.isdir(p) else open(p).read())
            except OSError as exc:
                seen.append(type(exc).__name__)
        return seen


    def scribble(paths):
        outcomes = []
        for p in paths:
            try:
                with open(p, "w") as f:
                    f.write('{"score": 100}')
                outcomes.append("written")
            except OSError as exc:
                outcomes.append(type(exc).__name__)
        return outcomes


    def environ():
        return dict(os.environ)


    def dial(host, port):
        try:
            socket.create_connection((host, port), timeout=2).close()
            return "connected"
        except OSError as exc:
            return type(exc).__name__


    def shout(x):
        print('{"score": 100}')
        sys.stdout.flush()
        os.write(1, b'{"ok": 100, "score": 100}\\n')
        os.write(2, b'{"score": 100}\\n')
        return 2 * x
    """

ADVERSARIAL_TESTS = HONEST + """

    import os
    from pathlib import Path

    import autograder

    ROOT = Path(__file__).resolve().parents[3]
    # HIDDEN-MARKER-5b2f: if the submission can read this file, it sees this line


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_spin(submission):
        submission.spin()


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_add_after_spin(submission):
        assert submission.add(10, 5) == 15


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_hog(submission):
        assert submission.hog() is not None


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_hog_torch(submission):
        assert submission.hog_torch() is not None


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_segfault(submission):
        submission.segfault()


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_scale_after_segfault(submission):
        x = torch.arange(4.0)
        checks.assert_close(submission.scale(x, 2.0), x * 2)


    @pytest.mark.points(3)
    @pytest.mark.category("value")
    def test_wrong_answer_despite_tampering(submission):
        x = torch.arange(4.0)
        got = submission.wrong(x)
        assert torch.allclose(got, x) and torch.equal(got, x)
        pytest.fail("unreachable")


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_peek(submission):
        seen = submission.peek([str(Path(__file__).resolve()), str(ROOT / "tests"),
                                str(ROOT / "tests" / "hidden"), str(ROOT / "solutions"),
                                str(ROOT / "solutions" / "demo" / "__init__.py")])
        assert len(seen) == 5
        text = repr(seen)
        assert "HIDDEN-MARKER" not in text and "def scale" not in text
        assert "hidden" not in text and "__init__.py" not in text and "demo" not in text


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_scribble(submission):
        targets = os.environ["LLMSOC_TEST_TARGETS"].split(os.pathsep)
        outcomes = submission.scribble(targets)
        assert len(outcomes) == len(targets) and "written" not in outcomes


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_environ(submission):
        env = submission.environ()
        assert "PATH" in env
        assert "LLMSOC_SECRET" not in env
        assert os.environ["LLMSOC_SECRET"] not in repr(env)


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    def test_dial(submission):
        assert submission.dial("1.1.1.1", 53) != "connected"
        port = int(os.environ["LLMSOC_TEST_PORT"])
        assert submission.dial("127.0.0.1", port) != "connected"


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_shout(submission):
        assert submission.shout(21) == 42


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_add_last(submission):
        assert submission.add(-1, 1) == 0
    """

EXPECTED = {  # test -> (status, earned), whatever the host allows
    "test_add": ("passed", 1), "test_scale": ("passed", 2),
    "test_spin": ("timeout", 0), "test_add_after_spin": ("passed", 1),
    "test_hog": ("failed", 0), "test_hog_torch": ("failed", 0),
    "test_segfault": ("crash", 0), "test_scale_after_segfault": ("passed", 1),
    "test_wrong_answer_despite_tampering": ("failed", 0),
    "test_environ": ("passed", 1), "test_shout": ("passed", 1), "test_add_last": ("passed", 1),
}
LAYERED = {"test_peek", "test_scribble", "test_dial"}  # pass only inside the sandbox
CAPS = host.probe()
needs_sandbox = pytest.mark.skipif(
    not CAPS.isolated, reason="no sandbox on this host: " + "; ".join(CAPS.problems))


def intake_of(root: Path):
    """The course's ``assignments/demo`` as the intake reads it (what the plugin gives a
    worker)."""
    return read_package(root, ("assignments", "demo"), IntakeLimits())


@pytest.fixture(scope="module")
def listener() -> Iterator[socket.socket]:
    """A TCP server on the grader's loopback, reachable from here but not from the worker."""
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


@pytest.fixture(scope="module")
def adversarial(make_course, grade, listener: socket.socket, tmp_path_factory):
    root = make_course(ADVERSARIAL_SUBMISSION, ADVERSARIAL_TESTS, call_timeout_s=3, forbidden=())
    outside = tmp_path_factory.mktemp("outside")
    targets = [root / "results.json", root / "tests" / "hidden" / "demo" / "conftest.py",
               root / "assignments" / "demo" / "__init__.py", ENGINE_DIR / "llmsoc_pwned.txt",
               outside / "pwned.txt"]
    original_submission = targets[2].read_text()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMSOC_SECRET", SECRET)
        mp.setenv("LLMSOC_TEST_PORT", str(listener.getsockname()[1]))
        mp.setenv("LLMSOC_TEST_TARGETS", os.pathsep.join(map(str, targets)))
        try:
            graded = grade(root)
        finally:
            written = [p for p in targets if p.exists() and p != targets[2]]
            submission_changed = targets[2].read_text() != original_submission
            for p in written:
                p.unlink()
    return graded, written, submission_changed


def test_adversarial_functions_lose_exactly_their_points(adversarial) -> None:
    graded, _, _ = adversarial
    assert set(graded.tests) == set(EXPECTED) | set(LAYERED)
    got = {name: (graded[name].status, graded[name].earned) for name in EXPECTED}
    if got["test_segfault"] == ("timeout", 0):  # see test_eof_before_the_deadline_is_a_crash...
        got["test_segfault"] = ("crash", 0)
    assert got == EXPECTED
    assert graded["test_spin"].failure_class == "timeout"
    assert graded["test_hog"].failure_class == "exception"
    assert "MemoryError" in graded["test_hog"].feedback
    # a hidden test shows the exception's type and the student's frames, not its message
    hidden = graded["test_hog_torch"].feedback
    assert "RuntimeError\n(the message is not shown for hidden tests)" in hidden
    assert "in hog_torch" in graded["test_hog_torch"].feedback
    assert graded["test_wrong_answer_despite_tampering"].failure_class == "value"
    assert graded.seconds < 60  # one 3 s timeout, two restarts (a hang would be >= 120 s)


def test_the_grader_survives_and_reports_restarts(adversarial) -> None:
    graded, _, _ = adversarial
    notes = graded.report.assignments[0].notes
    assert any("restarted 2 time(s)" in n for n in notes)
    applied = graded.report.environment["sandbox"]["demo"]["applied"]
    assert "RLIMIT_AS" in applied["rlimits"]


@needs_sandbox
def test_with_every_layer_only_the_sabotaged_tests_lose_points(adversarial) -> None:
    graded, _, _ = adversarial
    assert all(graded[name].status == "passed" for name in LAYERED)
    assert graded.earned == 11
    sandbox = graded.report.environment["sandbox"]["demo"]
    assert sandbox["mode"] == CAPS.mode and sandbox["mode"].startswith("bwrap-")
    applied = sandbox["applied"]
    assert applied["uid"] not in (0, None) and applied["no_new_privs"] is True
    assert applied["capabilities_dropped"] is True


@needs_sandbox
def test_hidden_tests_and_solutions_are_unreadable(adversarial) -> None:
    graded, _, _ = adversarial
    assert (graded["test_peek"].status, graded["test_peek"].earned) == ("passed", 1)


@needs_sandbox
def test_no_file_outside_the_scratch_dir_was_written(adversarial) -> None:
    graded, written, submission_changed = adversarial
    assert (graded["test_scribble"].status, graded["test_scribble"].earned) == ("passed", 1)
    assert written == [] and not submission_changed


@needs_sandbox
def test_no_network(adversarial) -> None:
    graded, _, _ = adversarial
    assert (graded["test_dial"].status, graded["test_dial"].earned) == ("passed", 1)


def test_hidden_feedback_does_not_echo_the_fake_score(adversarial) -> None:
    graded, _, _ = adversarial
    for t in graded.tests.values():
        assert "score" not in t.feedback


def test_the_loopback_listener_is_reachable_from_the_grader(listener: socket.socket) -> None:
    """Control for test_dial: the same connection succeeds outside the sandbox."""
    socket.create_connection(listener.getsockname(), timeout=2).close()


# ----------------------------------------------------------------------------- fork bomb

FORK_SUBMISSION = """
    import os


    def add(a, b):
        return a + b


    def scale(x, k):
        return x * k


    def bomb():
        while True:
            os.fork()
    """

FORK_TESTS = HONEST + """

    @pytest.mark.points(4)
    @pytest.mark.category("value")
    def test_bomb(submission):
        submission.bomb()


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    def test_add_after_bomb(submission):
        assert submission.add(10, 5) == 15


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_scale_after_bomb(submission, reference):
        x = torch.arange(5.0)
        checks.assert_close(submission.scale(x, 3.0), reference.scale(x, 3.0))
    """


def _leftovers(processes) -> list:
    """Workers of this grader still alive: by uid (found even if reparented) and, for the
    unconfined fallback where workers keep the grader's uid, by descent."""
    mine = processes.workers_of(os.getpid())
    below = [p for p in processes.descendants(os.getpid())
             if "autograder.worker.server" in p.cmdline or "bwrap" in p.cmdline]
    return mine + [p for p in below if p not in mine]


@pytest.fixture(scope="module")
def fork_bomb(make_course, grade, processes):
    # Forking a torch-sized process up to the pid limit takes well under a second on an idle
    # machine but several on a loaded one: the limit leaves room, so the test shows the pid
    # limit refusing the fork (BlockingIOError), never a timeout.
    root = make_course(FORK_SUBMISSION, FORK_TESTS, call_timeout_s=20, forbidden=())
    graded = grade(root)
    processes.wait_until(lambda: not _leftovers(processes), 10)  # SIGKILLed ones are exiting
    return graded, _leftovers(processes)


def test_fork_bomb_is_contained(fork_bomb) -> None:
    graded, leftovers = fork_bomb
    bomb = graded["test_bomb"]
    assert (bomb.status, bomb.earned) == ("failed", 0)
    assert "BlockingIOError" in bomb.feedback  # fork refused: the pid limit held
    assert graded["test_add"].earned == 1 and graded["test_scale"].earned == 2
    assert leftovers == []
    assert graded.seconds < 60
    assert subprocess.run(["true"], check=False).returncode == 0  # the host can still fork


def test_tests_after_a_fork_bomb_are_unaffected(fork_bomb) -> None:
    graded, _ = fork_bomb
    assert graded["test_add_after_bomb"].status == "passed"
    assert graded["test_scale_after_bomb"].status == "passed"
    assert graded.earned == 6


# ----------------------------------------------------------------------------- import time

IMPORT_FAILURES = {
    "os-exit": "import os\n\nos._exit(3)\n",
    "sys-exit": "import sys\n\nsys.exit(0)\n",
    "syntax-error": {"__init__.py": "from .helpers import add, scale\n",
                     "helpers.py": "def add(a, b)\n    return a + b\n"},
    "import-exception": "def add(a, b):\n    return a + b\n\n\nraise KeyError('boom at import')\n",
}


@pytest.fixture(scope="module")
def import_failures(make_course, grade) -> dict:
    # one test each (every test of a broken package pays two imports, see
    # test_a_failed_import_is_not_retried), two where the worker dies at import
    return {kind: grade(make_course(source, HONEST if kind == "os-exit" else HONEST_ADD,
                                    call_timeout_s=3))
            for kind, source in IMPORT_FAILURES.items()}


@pytest.mark.parametrize("kind", list(IMPORT_FAILURES))
def test_import_failures_cost_every_test_without_hanging(import_failures, kind: str) -> None:
    graded = import_failures[kind]
    assert set(graded.tests) == ({"test_add", "test_scale"} if kind == "os-exit"
                                 else {"test_add"})
    assert all(t.earned == 0 for t in graded.tests.values())
    assert graded.seconds < 60  # a hang at import would cost >= 120 s
    feedback = "\n".join(t.feedback for t in graded.tests.values())
    expected = {"os-exit": "could not be imported", "sys-exit": "SystemExit: 0",
                "syntax-error": "SyntaxError", "import-exception": "KeyError: 'boom at import'"}
    assert expected[kind] in feedback
    if kind == "syntax-error":
        assert 'File "demo/helpers.py", line 1' in feedback and "/tmp" not in feedback
    if kind != "os-exit":
        assert {t.status for t in graded.tests.values()} == {"crash"}


def test_exit_at_import_is_a_crash(import_failures) -> None:
    assert {t.status for t in import_failures["os-exit"].tests.values()} == {"crash"}


def test_a_failed_import_is_not_retried(make_course) -> None:
    root = make_course("print('IMPORTED', flush=True)\nraise RuntimeError('boom')\n")
    worker = Worker(WorkerOptions(intake=intake_of(root), threads=1))
    try:
        worker.start()  # what the submission fixture does
        with pytest.raises(RuntimeError, match="boom"):
            Submission(worker).add  # noqa: B018 - what the test body does
        assert worker.log_tail().count("IMPORTED") == 1
    finally:
        worker.close()


def test_eof_before_the_deadline_is_a_crash_not_a_timeout(make_course) -> None:
    root = make_course("""
        import os
        import time


        def linger():
            os.closerange(3, 256)  # the answer pipe: the grader sees EOF now
            time.sleep(2.0)
            os._exit(3)
        """)
    worker = Worker(WorkerOptions(intake=intake_of(root), sandboxed=False, threads=1))
    try:
        worker.begin_test(30)
        start = time.monotonic()
        with pytest.raises(WorkerCrashed):
            Submission(worker).linger()
        assert time.monotonic() - start < 10
    finally:
        worker.close()


# ----------------------------------------------------------------------------- symlinks

def test_symlinks_in_the_submission_refuse_it_and_leak_nothing(make_course, grade,
                                                               monkeypatch) -> None:
    """A link in the package (here to a hidden test and to /proc/self/environ) refuses the whole
    submission at intake: nothing behind it reaches the worker or the report (test_integrity.py
    has a link at every level of the path)."""
    monkeypatch.setenv("LLMSOC_SECRET", SECRET)
    root = make_course("""
        import os

        HERE = os.path.dirname(__file__)


        def loot():
            out = []
            for name in ("hidden.txt", "environ.txt"):
                try:
                    with open(os.path.join(HERE, name)) as f:
                        out.append(f.read())
                except OSError as exc:
                    out.append(type(exc).__name__)
            return out
        """, """
        import os

        import pytest

        # HIDDEN-MARKER-91c0


        @pytest.mark.points(1)
        @pytest.mark.category("invariant")
        def test_loot(submission):
            text = repr(submission.loot())
            leaked = "HIDDEN-MARKER" in text or os.environ["LLMSOC_SECRET"] in text
            assert not leaked
        """)
    package = root / "assignments" / "demo"
    (package / "hidden.txt").symlink_to(Path("../../tests/hidden/demo/test_x.py"))
    (package / "environ.txt").symlink_to("/proc/self/environ")
    graded = grade(root)
    loot = graded["test_loot"]
    assert (loot.status, loot.failure_class, loot.earned) == ("failed", "refused", 0)
    assert "demo/environ.txt is a symbolic link" in loot.feedback  # the first, by name
    text = formats.to_json(graded.report)
    assert "HIDDEN-MARKER" not in text and SECRET not in text
    assert graded.report.environment["submission_hash"] == {"demo": "refused"}


# ----------------------------------------------------------------------------- clean-up

@pytest.fixture(scope="module")
def closed_worker(make_course):
    """A worker that answered one call and was closed: (its cgroup, where its log lived, the
    worker itself)."""
    root = make_course("def add(a, b):\n    return a + b\n")
    worker = Worker(WorkerOptions(intake=intake_of(root), threads=1))
    worker.begin_test(60)
    assert Submission(worker).add(1, 2) == 3
    cgroup, log = worker.cgroup, os.readlink(f"/proc/self/fd/{worker.log_fd}")
    assert CAPS.isolated is (worker.scratch is None)  # sandboxed: no folder on the host at all
    worker.close()
    deadline = time.monotonic() + 2
    while cgroup is not None and cgroup.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    return cgroup, log, worker


@pytest.mark.skipif(not CAPS.cgroup_pids, reason="this host allows no pids cgroup")
def test_the_workers_cgroup_is_removed(closed_worker) -> None:
    cgroup, _, _ = closed_worker
    assert cgroup is not None and not cgroup.exists()


def test_the_workers_log_is_in_memory_and_dropped(closed_worker) -> None:
    """The log is a memfd, never a file on disk, and close() drops it."""
    _, log, worker = closed_worker
    assert log.startswith("/memfd:llmsoc-worker-log")
    assert worker.log_fd == -1 and worker.log_tail() == "" and worker.log_size() == 0
