"""The runner: collect graded tests in the trusted process, run them, return a :class:`Report`.

    report = run(course, ["w2_pytorch_basics"], submission=Path("student-repo"), official=True)

Pytest runs in this process with its terminal output switched off, so neither a hidden test's
source nor its assertion output is ever printed; all feedback goes through the report. The
"from scratch" rule (grading.forbidden) zeroes the tests that ran code breaking it and adds one
zero-point entry per assignment listing every breach.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder.grading import seeds
from autograder.grading.config import Course
from autograder.grading.errors import SubmissionRefused
from autograder.grading.plugin import GradingSession
from autograder.grading.report import AssignmentResult, Report, TestResult
from autograder.sandbox import host


class OfficialGradingUnavailable(RuntimeError):
    """An official grade was asked for on a host, or with settings, that cannot give one."""

    def __init__(self, problems: list[str]):
        super().__init__("no official grade here:\n" + "\n".join(f"  - {p}" for p in problems)
                         + "\n(`llmsoc grade --unofficial` grades without these, never "
                           "officially)")
        self.problems = problems


def official_problems(course: Course) -> list[str]:
    """What an official grade needs and is missing here: the sandbox (allow-listed root,
    namespaces, a non-root uid; see sandbox.host) and a course secret of adequate length."""
    problems = host.missing_for_official(host.probe())
    secret_problem = seeds.secret_problem(*seeds.course_secret(course.root))
    return problems + ([secret_problem] if secret_problem else [])


class _Collector:
    """Registered for one run to capture the grading session pytest builds."""

    def __init__(self) -> None:
        self.session: GradingSession | None = None

    @pytest.hookimpl(trylast=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        self.session = config.pluginmanager.get_plugin("llmsoc-grading")


def run(
    course: Course,
    names: list[str],
    *,
    submission: Path | None = None,
    official: bool = False,
    public_only: bool = False,
    debug: bool = False,
    salt: int = 0,
    record_snapshots: bool = False,
    keyword: str | None = None,
    stop_at_first_failure: bool = False,
    preview_secret: bool = False,
) -> Report:
    """Grade ``names`` and return the report (never raises for a broken submission).

    ``official=True`` fails closed: :class:`OfficialGradingUnavailable` unless every isolation
    layer and a course secret are in place (:func:`official_problems`)."""
    if official:
        problems = official_problems(course)
        if problems:
            raise OfficialGradingUnavailable(problems)
    paths = []
    for name in names:
        course.config(name)  # unknown assignment: a clear error now
        paths.append(course.public_tests(name))
        hidden = course.hidden_tests(name)
        if not public_only and hidden.is_dir():
            paths.append(hidden)
    args = [str(p) for p in paths] + [
        "-q", "--tb=no", "-p", "no:cacheprovider", "-p", "no:unraisableexception",
        "--import-mode=importlib",
        "--rootdir", str(course.root),
        "--llmsoc-salt", str(salt)]
    if submission is not None:
        args += ["--llmsoc-submission", str(submission)]
    if debug:
        args.append("--llmsoc-debug")
    if record_snapshots:
        args.append("--llmsoc-record-snapshots")
    if keyword:
        args += ["-k", keyword]
    if preview_secret:
        if official:
            raise ValueError("an official grade needs the course secret, not the preview one")
        args.append("--llmsoc-preview-secret")
    if stop_at_first_failure:  # enough to show that a mutant loses points
        args.append("-x")
    collector = _Collector()
    threads = torch.get_num_threads()
    torch.set_num_threads(min(course.config(n).threads for n in names))
    start = time.perf_counter()
    out = io.StringIO()
    try:  # pytest's own output (which would show hidden tests' source) goes nowhere
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = pytest.main(args, plugins=[collector])
    finally:
        torch.set_num_threads(threads)
        forget_test_modules(course)
    elapsed = time.perf_counter() - start
    session = collector.session
    if session is None or code in (pytest.ExitCode.USAGE_ERROR, pytest.ExitCode.INTERNAL_ERROR):
        raise RuntimeError(f"pytest could not run the tests (exit code {int(code)}):\n"
                           f"{out.getvalue()[-3000:]}")
    return build_report(course, names, session, elapsed, official, salt)


def forget_test_modules(course: Course) -> None:
    """Drop this course's test modules from ``sys.modules``: with ``--import-mode=importlib``
    they are named after their path inside the course, so another course graded later in the
    same process would otherwise get these modules instead of its own."""
    tests = str(course.root / "tests")
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(tests):
            del sys.modules[name]


def suite_hash(course: Course, names: list[str]) -> str:
    """SHA-256 over the graded assignments' public and hidden tests, configs and snapshots
    (nothing else under ``tests/``, so an unrelated change does not alter it)."""
    h = hashlib.sha256()
    for name in sorted(names):
        h.update(name.encode() + b"\0")
        for folder in (course.public_tests(name), course.hidden_tests(name)):
            h.update(seeds.tree_hash(folder, (".py", ".toml", ".snap")).encode())
    return h.hexdigest()


def build_report(course: Course, names: list[str], session: GradingSession, elapsed: float,
                 official: bool, salt: int) -> Report:
    by_name: dict[str, AssignmentResult] = {}
    for name in names:
        cfg = course.config(name)
        by_name[name] = AssignmentResult(name=name, time_budget_s=cfg.time_budget_s)
    for result in session.results:
        a = session.assignment_of.get(result.nodeid)
        if a in by_name:
            by_name[a].tests.append(result)
            by_name[a].duration_s += result.duration_s
    sandbox_info: dict[str, Any] = {}
    for name, a in by_name.items():
        a.tests.append(static_check(session, name))
        worker = session.workers.get(name)
        if worker is not None:
            sandbox_info[name] = worker.sandbox_report
            if worker.restarts:
                a.notes.append(f"the worker was restarted {worker.restarts} time(s) after a "
                               "timeout or crash; only the tests it was serving lost points")
    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "device": "cuda" if torch.cuda.is_available() else "cpu",
        "mode": "debug (in-process)" if session.debug else f"sandboxed: {host.probe().mode}",
        "seed_mode": "hidden tests: HMAC(course secret, submission hash); secret from " + (
            session.secret[1] if session.secret[1] != "none"
            else "nowhere: the public preview secret (unofficial)") + (
            f"; salt {salt}" if salt else ""),
        "suite_hash": suite_hash(course, names),
        "submission_hash": {name: session.submission_hash(name) for name in by_name},
        "sandbox": sandbox_info,
        "wall_time_s": round(elapsed, 3),
    }
    return Report(assignments=list(by_name.values()), official=official and not session.debug,
                  environment=env, created=dt.datetime.now(dt.timezone.utc).isoformat(
                      timespec="seconds"))


def static_check(session: GradingSession, name: str) -> TestResult:
    """The zero-point "from scratch" entry: every breach of the rule found in the sources the
    intake read (the very bytes the worker ran), and how they were scored."""
    result = TestResult(name="from-scratch rule (static check)", nodeid=f"{name}::static",
                        category="invariant", visibility="public", points=0.0, earned=0.0,
                        status="passed")
    try:
        found = session.static_rule(name).violations
    except (SubmissionRefused, pytest.UsageError) as exc:
        result.status, result.failure_class, result.feedback = "failed", "refused", str(exc)
        return result
    if found:
        result.status, result.failure_class = "failed", "forbidden"
        result.feedback = "\n".join(str(v) for v in found[:20]) + (
            f"\n... and {len(found) - 20} more" if len(found) > 20 else "") + (
            "\nEach one costs the points of every test that runs the function, method or class "
            "it lies in (code that runs at import costs every test).")
    return result
