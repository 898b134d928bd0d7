"""Fixtures for the engine tests: tiny throwaway courses, graded through the real runner.

``make_course(submission, hidden, ...)`` writes a one-assignment course (``demo``) and returns
its root; ``grade(root, **run_kwargs)`` grades it with :func:`autograder.grading.runner.run` and
returns a :class:`Graded` (the report plus its tests by name). Sources are dedented, so tests can
write them as indented triple-quoted strings.

Every test runs with a valid course secret in ``LLMSOC_SECRET`` (:data:`TEST_SECRET`; a test
may remove it with ``monkeypatch``), and ``grade`` asks for an official grade wherever this host
can give one (:func:`autograder.sandbox.host.probe` finds the sandbox), so the tests run, less
officially, on a host without bubblewrap too. ``processes`` looks at the host's process table
(worker processes by uid, a process's descendants) for the clean-up tests.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder.grading.config import Course
from autograder.grading.report import Report, TestResult
from autograder.grading.runner import run
from autograder.sandbox import host, process

NAME = "demo"
TEST_SECRET = "engine-tests-course-secret-0123456789abcdef"  # >= seeds.MIN_SECRET_CHARS

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


@pytest.fixture(scope="session", autouse=True)
def course_secret() -> Iterator[str]:
    """A valid course secret for every test (official grades need one); no secret file."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("LLMSOC_SECRET", TEST_SECRET)
        mp.delenv("LLMSOC_SECRET_FILE", raising=False)
        yield TEST_SECRET


@pytest.fixture(scope="session")
def make_course(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Factory: ``make_course(submission, hidden=None, *, public=None, reference=REFERENCE,
    call_timeout_s=5, forbidden=("torch.softmax",), config="")`` -> course root.

    ``submission``/``hidden``/``public``/``reference`` are a source (the package's
    ``__init__.py``, ``test_x.py``, ``test_public.py``) or ``{relative path: source}``;
    ``config`` is appended to ``assignment.toml``. Tests of the sandbox, whose submissions use
    ``os``, ``ctypes`` and the like on purpose, pass ``forbidden=()`` (no from-scratch rule).
    """

    def make(submission: Sources, hidden: Sources | None = None, *, public: Sources | None = None,
             reference: Sources | None = REFERENCE, call_timeout_s: float = 5,
             forbidden: tuple[str, ...] = ("torch.softmax",), config: str = "") -> Path:
        root = tmp_path_factory.mktemp("course")
        pub = root / "tests" / "public" / NAME
        pub.mkdir(parents=True)
        (pub / "assignment.toml").write_text(
            f'title = "{NAME}"\ntime_budget_s = 30\ncall_timeout_s = {call_timeout_s}\n'
            f'forbidden = {json.dumps(list(forbidden))}\n{config}')
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
    """``grade(root, official=<host is isolated>, **run_kwargs)`` -> :class:`Graded`, in a clean
    state (official by default wherever the sandbox works: see the module docstring)."""

    def grade_(root: Path, **kwargs: object) -> Graded:
        kwargs.setdefault("official", host.probe().isolated)
        forget_course_modules()
        start = time.monotonic()
        try:
            report = run(Course(root), [NAME], **kwargs)
        finally:
            forget_course_modules()
        return Graded(report, time.monotonic() - start)

    return grade_


# ----------------------------------------------------------------------------- processes

@dataclass(frozen=True)
class Proc:
    """One process as /proc shows it."""

    pid: int
    ppid: int
    uid: int
    state: str
    comms: tuple[str, ...]  # the names of its threads (``prctl(PR_SET_NAME)`` changes one)
    cmdline: str
    start: int  # clock ticks after boot: tells a process from a later one with the same pid

    @property
    def alive(self) -> bool:
        return self.state not in ("Z", "X")  # a zombie has exited, only its entry is left


def _read_proc(pid: int) -> Proc | None:
    try:
        status = dict(line.split(":\t", 1) for line in
                      Path(f"/proc/{pid}/status").read_text().splitlines() if ":\t" in line)
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        comms = []
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                comms.append(Path(f"/proc/{pid}/task/{task}/comm").read_text().strip())
            except OSError:
                pass
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except (OSError, ValueError, IndexError):
        return None  # gone meanwhile
    return Proc(pid=pid, ppid=int(status["PPid"]), uid=int(status["Uid"].split()[0]),
                state=status["State"].split()[0], comms=tuple(comms),
                cmdline=cmdline.decode(errors="replace"), start=int(stat[19]))


class Processes:
    """The host's process table, read afresh by each call."""

    @staticmethod
    def all() -> list[Proc]:
        found = (_read_proc(int(p)) for p in os.listdir("/proc") if p.isdigit())
        return [p for p in found if p is not None]

    def descendants(self, pid: int) -> list[Proc]:
        """Every live process below ``pid`` (reparented orphans are not found this way)."""
        table = self.all()
        children: dict[int, list[Proc]] = {}
        for p in table:
            children.setdefault(p.ppid, []).append(p)
        out, todo = [], [pid]
        while todo:
            for child in children.get(todo.pop(), []):
                out.append(child)
                todo.append(child.pid)
        return [p for p in out if p.alive]

    def with_uids(self, uids: set[int]) -> list[Proc]:
        return [p for p in self.all() if p.uid in uids and p.alive]

    def workers_of(self, grader_pid: int, span: int = 4096) -> list[Proc]:
        """Live processes running as one of the worker uids a grader with ``grader_pid`` hands
        out (see :func:`autograder.sandbox.process.worker_uid`), wherever they were
        reparented to."""
        first = grader_pid * 4096
        return [p for p in self.all() if p.alive and process.UID_BASE <= p.uid
                < process.UID_BASE + process.UID_RANGE
                and (p.uid - process.UID_BASE - first) % process.UID_RANGE < span]

    @staticmethod
    def still_there(procs: list[Proc]) -> list[Proc]:
        """Those of ``procs`` still alive (the same process: same pid and start time)."""
        out = []
        for p in procs:
            now = _read_proc(p.pid)
            if now is not None and now.start == p.start and now.alive:
                out.append(now)
        return out

    @staticmethod
    def wait_until(condition: Callable[[], object], timeout_s: float) -> object:
        """Poll ``condition`` until it is truthy or ``timeout_s`` passed; its last value."""
        deadline = time.monotonic() + timeout_s
        while not (value := condition()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return value


@pytest.fixture(scope="session")
def processes() -> Processes:
    """The host's process table (see :class:`Processes`)."""
    return Processes()
