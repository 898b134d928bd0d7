"""The pytest plugin: fixtures, markers, and turning test outcomes into graded results.

Tests are ordinary pytest tests under ``tests/public/<assignment>/`` or
``tests/hidden/<assignment>/``::

    @pytest.mark.points(2)
    @pytest.mark.category("value")
    @pytest.mark.hint("Subtract the row maximum before exponentiating.")
    @pytest.mark.timeout(10)
    def test_softmax_values(submission, reference, rng):
        x = torch.randn(4, 10, generator=rng)
        checks.assert_close(submission.softmax(x), reference.softmax(x))

Fixtures: ``submission`` (proxy to the student's package in the sandboxed worker, or the package
itself with ``--llmsoc-debug``), ``reference`` (the solution, trusted process), ``snapshot``,
``seed``/``inputs``/``rng``/``np_rng``, ``heldout_seed`` (held-out data only), ``device``,
``credit`` (partial credit). Markers: ``points``, ``category``, ``hint``, ``timeout``,
``visibility`` (default: the folder the test lives in).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from autograder.grading import feedback, forbidden, seeds
from autograder.grading.checks import CheckFailure
from autograder.grading.config import Course
from autograder.grading.errors import (
    ForbiddenAPIError,
    NotImplementedBySubmission,
    StaleHandle,
    SubmissionError,
    SubmissionRefused,
    WorkerCrashed,
    WorkerTimeout,
)
from autograder.grading.inputs import Inputs
from autograder.grading.proxy import Submission, Worker, WorkerOptions
from autograder.grading.report import CATEGORIES, TestResult
from autograder.grading.snapshots import read_snapshot, write_snapshot
from autograder.sandbox.intake import Intake, IntakeRefused, read_package

SLOW_CATEGORIES = ("training", "perplexity")
"""Run after every other test of a session (see pytest_collection_modifyitems)."""

CATEGORY_FAILURE = {"shape": "shape", "value": "value", "gradient": "gradient",
                    "invariant": "invariant", "training": "threshold",
                    "perplexity": "threshold", "error-handling": "error-handling"}

MARKERS = {
    "points(n)": "points the test is worth (required)",
    "category(name)": f"what the test checks, one of {', '.join(CATEGORIES)} (required)",
    "hint(text)": "shown to the student when the test fails",
    "timeout(seconds)": "limit for the test's calls into the submission, counted in the "
                        "worker's CPU time (see autograder.grading.budget)",
    "visibility(name)": "public or hidden (default: the folder the test lives in)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    g = parser.getgroup("llmsoc", "LLM-SOC grading")
    g.addoption("--llmsoc-submission", default=None,
                help="the submitted package directory or student repository "
                     "(default: assignments/<name> of the course)")
    g.addoption("--llmsoc-debug", action="store_true",
                help="run the submission in-process (for a debugger); never an official grade")
    g.addoption("--llmsoc-salt", type=int, default=0, help="vary all seeds (validation)")
    g.addoption("--llmsoc-preview-secret", action="store_true",
                help="seed hidden tests from the public preview secret, whatever course secret "
                     "is set, so a run is reproducible anywhere (validation); never official")
    g.addoption("--llmsoc-record-snapshots", action="store_true",
                help="write the public tests' snapshots from the reference")


def pytest_configure(config: pytest.Config) -> None:
    for marker, text in MARKERS.items():
        config.addinivalue_line("markers", f"{marker}: {text}")
    if config.pluginmanager.has_plugin("llmsoc-grading"):
        return
    config.pluginmanager.register(GradingSession(config), "llmsoc-grading")


class Credit:
    """Partial credit for the running test: ``credit(0.5, "2 of 4 cases")``."""

    def __init__(self) -> None:
        self.fraction = 1.0
        self.note = ""

    def __call__(self, fraction: float, note: str = "") -> None:
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        self.note = note


def _marker_arg(item: pytest.Item, name: str, default: Any = None) -> Any:
    m = item.get_closest_marker(name)
    return m.args[0] if m is not None and m.args else default


class GradingSession:
    """Per pytest session: workers per assignment, results per test."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.course: Course | None = None
        self.debug = bool(config.getoption("llmsoc_debug"))
        self.salt = int(config.getoption("llmsoc_salt"))
        self.record = bool(config.getoption("llmsoc_record_snapshots"))
        self.workers: dict[str, Worker] = {}
        self.local: dict[str, ModuleType] = {}
        self.references: dict[str, ModuleType] = {}
        self.results: list[TestResult] = []
        self.assignment_of: dict[str, str] = {}
        self.credits: dict[str, Credit] = {}
        self.log_marks: dict[str, int] = {}
        self.intakes: dict[str, Intake | SubmissionRefused] = {}
        self.rules: dict[str, forbidden.Analysis] = {}
        self.started: set[str] = set()
        self._secret: tuple[bytes, str] | None = None

    # -- locating things ------------------------------------------------------------------------
    def graded(self, item: pytest.Item) -> bool:
        """True for tests under tests/public/<a>/ or tests/hidden/<a>/ of a course."""
        path = Path(str(item.path))
        if self.course is None:
            try:
                self.course = Course.find(path.parent)
            except FileNotFoundError:
                return False
        return self.course.assignment_of(path) is not None

    def where(self, item: pytest.Item) -> tuple[str, str]:
        """``(assignment, visibility)`` of a graded test."""
        found = self.course.assignment_of(Path(str(item.path))) if self.graded(item) else None
        if found is None:
            raise RuntimeError(f"{item.nodeid} is not a graded test: graded tests live in "
                               "tests/public/<assignment>/ or tests/hidden/<assignment>/")
        name, folder = found
        return name, _marker_arg(item, "visibility", folder)

    def package_location(self, name: str) -> tuple[Path, tuple[str, ...]]:
        """``(root, parts)``: the submitted package is ``root/parts...``. Candidates are told
        apart by name only (a link is never followed to decide): ``assignments/<name>`` of a
        student repository, ``<name>`` in a folder, or the given folder itself."""
        opt = self.config.getoption("llmsoc_submission")
        if opt is None:
            return self.course.root, ("assignments", name)
        p = Path(os.path.abspath(opt))
        if os.path.lexists(p / "assignments" / name):
            return p, ("assignments", name)
        if os.path.lexists(p / name):
            return p, (name,)
        if p.name == name or os.path.lexists(p / "__init__.py"):
            return p, ()
        raise pytest.UsageError(f"no package for assignment {name!r} under {p} (looked for "
                                f"{p}/assignments/{name}/__init__.py and {p}/{name}/__init__.py)")

    def package_dir(self, name: str) -> Path:
        root, parts = self.package_location(name)
        return root.joinpath(*parts)

    def intake(self, name: str) -> Intake:
        """The submitted package, read once under the intake rules (raises
        :class:`SubmissionRefused` for every test when it breaks one)."""
        if name not in self.intakes:
            root, parts = self.package_location(name)
            try:
                self.intakes[name] = read_package(root, parts, self.course.config(name).intake)
            except IntakeRefused as exc:
                self.intakes[name] = SubmissionRefused(f"the submission was refused: {exc}")
        found = self.intakes[name]
        if isinstance(found, SubmissionRefused):
            raise found
        return found

    def static_rule(self, name: str) -> forbidden.Analysis:
        """The from-scratch rule applied to the submitted package (once per assignment)."""
        if name not in self.rules:
            cfg = self.course.config(name)
            intake = self.intake(name)
            try:
                self.rules[name] = forbidden.analyse(intake.files, intake.package,
                                                     cfg.forbidden, cfg.allow)
            except Exception as exc:  # noqa: BLE001 - the rule fails closed, never the grade
                self.rules[name] = forbidden.Analysis(violations=[forbidden.Violation(
                    intake.package, 0, f"the check failed ({type(exc).__name__})",
                    "unparseable")])
        return self.rules[name]

    def charge_violations(self, item: pytest.Item, name: str, result: TestResult) -> None:
        """Zero the test when it exercised code that breaks the from-scratch rule (see
        grading.forbidden for which tests a violation costs)."""
        if "submission" not in getattr(item, "fixturenames", ()):
            return
        try:
            rule = self.static_rule(name)
        except SubmissionRefused:
            return  # every test is refused already
        worker = self.workers.get(name)
        touched = None if self.debug or worker is None else worker.touched
        charged = rule.charged(touched)
        if not charged:
            return
        shown = "\n".join(f"  {v}" for v in charged[:5]) + (
            f"\n  ... and {len(charged) - 5} more" if len(charged) > 5 else "")
        note = f"This test ran code that breaks the from-scratch rule:\n{shown}"
        if result.earned > 0 or result.status == "passed":
            result.earned, result.status, result.failure_class = 0.0, "forbidden", "forbidden"
            result.feedback = f"{describe('forbidden', 'forbidden')}: it earns no points.\n{note}"
        else:  # it earned nothing anyway: keep what went wrong first (a crash, say) in front
            result.feedback = f"{result.feedback}\n{note}" if result.feedback else note
        result.feedback = feedback.clean(result.feedback, 8000)

    # -- the objects tests use ------------------------------------------------------------------
    def worker(self, name: str) -> Worker:
        if name not in self.workers:
            cfg = self.course.config(name)
            self.workers[name] = Worker(WorkerOptions(
                intake=self.intake(name), forbidden=cfg.forbidden,
                forbidden_ops=cfg.forbidden_ops, granted_data=cfg.grant_data,
                # CUDA reserves far more address space than it uses: no RLIMIT_AS on GPUs
                memory_mb=0 if torch.cuda.is_available() else cfg.memory_mb,
                cpu_s=int(max(cfg.time_budget_s * 5, 120)) * max(1, cfg.threads),
                threads=cfg.threads))
        return self.workers[name]

    def local_package(self, name: str) -> ModuleType:
        if name not in self.local:
            self.local[name] = import_package(self.package_dir(name), "llmsoc_debug")
        return self.local[name]

    def reference_package(self, name: str) -> ModuleType:
        if name not in self.references:
            course = self.course
            if not course.has_solutions(name):
                raise RuntimeError("the reference solution is not available here; public tests "
                                   "must take expected values from `snapshot`")
            self.references[name] = import_package(course.solution_dir(name),
                                                   "llmsoc_reference")
        return self.references[name]

    def submission_hash(self, name: str) -> str:
        """SHA-256 of exactly the files the worker receives (see :meth:`Intake.digest`)."""
        try:
            return self.intake(name).digest()
        except SubmissionRefused:
            return "refused"

    @property
    def secret(self) -> tuple[bytes, str]:
        """``(course secret, where it came from)``, read once (see :func:`seeds.course_secret`)."""
        if self._secret is None:
            self._secret = ((seeds.UNOFFICIAL_SECRET, "none")
                            if self.config.getoption("llmsoc_preview_secret")
                            else seeds.course_secret(self.course.root if self.course else None))
        return self._secret

    def seed_for(self, item: pytest.Item, stream: str = "") -> int:
        """The test's seed; another ``stream`` gives another, independent one.

        A public test gets the fixed public seed where its expected values come from the
        snapshots (a student's self-check, and recording them); where the reference is present
        (an official grade, validation) it gets a secret seed like a hidden test, so a table of
        the snapshots earns no point there."""
        name, visibility = self.where(item)
        key = f"{stream}|{item.nodeid}" if stream else item.nodeid
        if visibility == "public":
            if self.record or not self.course.has_solutions(name):
                return seeds.public_seed(key, self.salt)
            key = f"public|{key}"  # where the reference computes the expected values live
        return seeds.hidden_seed(self.secret[0], self.submission_hash(name), key, self.salt)

    # -- hooks ----------------------------------------------------------------------------------
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        for item in items:
            if not self.graded(item):
                continue
            name, _ = self.where(item)
            self.assignment_of[item.nodeid] = name
            points = _marker_arg(item, "points")
            category = _marker_arg(item, "category")
            if not isinstance(points, (int, float)) or points < 0:
                raise pytest.UsageError(f"{item.nodeid}: needs @pytest.mark.points(n)")
            if category not in CATEGORIES:
                raise pytest.UsageError(f"{item.nodeid}: needs @pytest.mark.category(c) with c in "
                                        f"{CATEGORIES}")
        # Training and perplexity tests are the slow ones: run them last, so that a quick failure
        # is found first (validation stops a mutant's run there). The sort is stable.
        items.sort(key=lambda item: _marker_arg(item, "category") in SLOW_CATEGORIES)
        if not self.debug and not self.config.getoption("collectonly"):
            for name in sorted(set(self.assignment_of.values())):
                self.prestart(name)

    def pytest_sessionstart(self) -> None:
        """Start workers for the assignments named on the command line before collection, so
        the worker imports torch on one core while pytest imports the tests on the other."""
        if self.debug or self.config.getoption("collectonly"):
            return
        for arg in self.config.args:
            path = Path(arg.split("::")[0]).resolve()
            try:
                if self.course is None:
                    self.course = Course.find(path if path.is_dir() else path.parent)
            except FileNotFoundError:
                return
            found = self.course.assignment_of(path)
            if found is not None:
                self.prestart(found[0])

    def prestart(self, name: str) -> None:
        """Start the worker (importing torch) in the background while pytest sets up tests."""
        if name in self.started:
            return
        self.started.add(name)
        try:
            worker = self.worker(name)
        except (pytest.UsageError, FileNotFoundError, ValueError, SubmissionRefused):
            return  # reported by the first test that asks for the submission
        threading.Thread(target=worker.start, daemon=True).start()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        name = self.assignment_of.get(item.nodeid)
        worker = self.workers.get(name) if name else None
        if worker is not None:
            timeout = _marker_arg(item, "timeout", self.course.config(name).call_timeout_s)
            worker.begin_test(float(timeout),
                              check_ops=_marker_arg(item, "category") not in SLOW_CATEGORIES)
            self.log_marks[item.nodeid] = worker.log_size()
        try:
            return (yield)
        finally:
            if worker is not None:
                worker.end_test()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if item.nodeid not in self.assignment_of:
            return report
        if call.when == "call" or (call.when == "setup" and report.outcome != "passed"):
            try:
                self.results.append(self.grade(item, call, report.duration))
            except Exception as exc:  # noqa: BLE001 - one test's scoring never ends the grade
                self.results.append(self.scoring_error(item, exc))
        return report

    def scoring_error(self, item: pytest.Item, exc: Exception) -> TestResult:
        """The result of a test whose scoring itself failed: zero, status ``error``."""
        points = _marker_arg(item, "points")
        return TestResult(
            name=item.name, nodeid=item.nodeid, category=_marker_arg(item, "category"),
            visibility=self.where(item)[1],
            points=float(points) if isinstance(points, (int, float)) else 0.0, earned=0.0,
            status="error", failure_class="internal",
            feedback=f"{describe('error', 'internal')}: {type(exc).__name__} while scoring")

    # -- grading one test -----------------------------------------------------------------------
    def grade(self, item: pytest.Item, call: pytest.CallInfo[None], duration: float
              ) -> TestResult:
        result = self.outcome(item, call, duration)
        self.charge_violations(item, self.where(item)[0], result)
        return result

    def outcome(self, item: pytest.Item, call: pytest.CallInfo[None], duration: float
                ) -> TestResult:
        """The test's result from how it ended (before the from-scratch rule)."""
        name, visibility = self.where(item)
        points = float(_marker_arg(item, "points"))
        category = _marker_arg(item, "category")
        hint = _marker_arg(item, "hint", "")
        result = TestResult(name=item.name, nodeid=item.nodeid, category=category,
                            visibility=visibility, points=points, earned=0.0, status="passed",
                            duration_s=round(duration, 4))
        credit = self.credits.pop(item.nodeid, None)
        if call.excinfo is None:
            fraction = credit.fraction if credit else 1.0
            result.earned = points * fraction
            if fraction < 1.0:
                result.status = "partial"
                result.feedback = f"partial credit {fraction:.0%}" + (
                    f": {credit.note}" if credit.note else "")
            return result
        exc = call.excinfo.value
        status, failure_class, detail = classify(exc, category, call.when)
        result.status, result.failure_class = status, failure_class
        public = visibility == "public"
        lines = [describe(status, failure_class)]
        if isinstance(exc, SubmissionError):
            lines.append(self.student_detail(exc, name, public))
        elif public or status in ("timeout", "crash", "error") or failure_class == "refused":
            lines.append(detail)  # the grader's own words (a budget, an exit code, a refusal)
        if hint and status != "not-implemented":
            lines.append(f"Hint: {hint}")
        worker = self.workers.get(name)
        if public and worker is not None and item.nodeid in self.log_marks:
            printed = worker.log_tail(self.log_marks.pop(item.nodeid))
            if printed.strip():
                lines.append("Your code printed:\n" + printed.rstrip())
        result.feedback = feedback.clean("\n".join(line for line in lines if line), 8000)
        return result

    def student_detail(self, exc: SubmissionError, name: str, public: bool) -> str:
        """What the student sees of an exception their code raised. Public tests and import
        errors (raised before any test input exists) show it in full; hidden tests only what
        the trusted side can vouch for (see :mod:`autograder.grading.feedback`)."""
        if public or getattr(exc, "at_import", False):
            if isinstance(exc, NotImplementedBySubmission):
                where = exc.frames[-1] if exc.frames else None
                return exc.message + (f" ({where[0]}, line {where[1]}, in {where[2]})"
                                      if where else "")
            return exc.student_traceback()
        found = self.intakes.get(name)
        trusted = feedback.trusted_frames(exc.frames, found if isinstance(found, Intake) else None)
        if isinstance(exc, NotImplementedBySubmission):
            where = trusted[-1] if trusted else None
            return f"at {where[0]}, line {where[1]}, in {where[2]}" if where else ""
        return feedback.hidden_traceback(exc.type_name, trusted)

    def pytest_sessionfinish(self) -> None:
        for w in self.workers.values():
            w.close()

    # -- fixtures -------------------------------------------------------------------------------
    @pytest.fixture
    def submission(self, request: pytest.FixtureRequest) -> Any:
        name = self.assignment_of.get(request.node.nodeid) or self.where(request.node)[0]
        if self.debug:
            return self.local_package(name)
        worker = self.worker(name)
        worker.touched = set()
        worker.start()
        worker.pending_seed = seeds.worker_seed(self.seed_for(request.node))
        return Submission(worker)

    @pytest.fixture
    def reference(self, request: pytest.FixtureRequest) -> ModuleType:
        return self.reference_package(self.where(request.node)[0])

    @pytest.fixture
    def seed(self, request: pytest.FixtureRequest) -> int:
        return self.seed_for(request.node)

    @pytest.fixture
    def heldout_seed(self, request: pytest.FixtureRequest) -> int:
        """The seed of the test's held-out data: independent of ``seed``, so nothing derived
        from ``seed`` that reaches the worker (a training seed, the training data) reveals it.
        Never pass it, or anything derived from it but the held-out inputs, to the worker."""
        return self.seed_for(request.node, "heldout")

    @pytest.fixture
    def inputs(self, seed: int) -> Inputs:
        """Version-stable inputs drawn from ``seed`` (autograder.grading.inputs): what
        public tests use, since their snapshots must hold on every torch version."""
        return Inputs(seed)

    @pytest.fixture
    def rng(self, seed: int) -> torch.Generator:
        return torch.Generator().manual_seed(seed)

    @pytest.fixture
    def np_rng(self, seed: int) -> np.random.Generator:
        return np.random.default_rng(seed)

    @pytest.fixture
    def device(self) -> str:
        wanted = os.environ.get("LLMSOC_DEVICE", "auto")
        return "cuda" if wanted != "cpu" and torch.cuda.is_available() else "cpu"

    @pytest.fixture
    def credit(self, request: pytest.FixtureRequest) -> Credit:
        c = Credit()
        self.credits[request.node.nodeid] = c
        return c

    @pytest.fixture
    def snapshot(self, request: pytest.FixtureRequest) -> Callable[[str, Callable], Any]:
        name, _ = self.where(request.node)
        folder = self.course.public_tests(name) / "snapshots"
        module = Path(str(request.node.path)).stem

        def snap(key: str, compute: Callable[[ModuleType], Any]) -> Any:
            path = folder / f"{module}.{key}.snap"
            if self.course.has_solutions(name):
                value = compute(self.reference_package(name))
                if self.record:
                    folder.mkdir(exist_ok=True)
                    write_snapshot(path, value)
                return value
            if not path.is_file():
                raise RuntimeError(f"snapshot {path.name} is missing; re-run the release")
            return read_snapshot(path)
        return snap


def classify(exc: BaseException, category: str, when: str) -> tuple[str, str, str]:
    """``(status, failure_class, detail)`` for an exception that ended a test."""
    if isinstance(exc, SubmissionRefused):
        return "failed", "refused", str(exc)
    if isinstance(exc, NotImplementedBySubmission):
        return "not-implemented", "not-implemented", f"not implemented: {exc.message}"
    if isinstance(exc, ForbiddenAPIError):
        return "forbidden", "forbidden", exc.message
    if isinstance(exc, WorkerTimeout):
        return "timeout", "timeout", f"your code {exc}"
    if isinstance(exc, (WorkerCrashed, StaleHandle)):
        return "crash", "crash", f"the process running your code {exc}"
    if isinstance(exc, SubmissionError):
        if getattr(exc, "at_import", False):
            return "crash", "crash", "your package failed to import"
        return "failed", "exception", str(exc)
    if isinstance(exc, CheckFailure):
        return "failed", exc.failure_class, str(exc)
    if isinstance(exc, AssertionError):
        return "failed", CATEGORY_FAILURE[category], str(exc) or "assertion failed"
    if when == "setup":
        return "error", "internal", f"the test could not be set up: {type(exc).__name__}: {exc}"
    return "failed", "exception", f"your output could not be checked ({type(exc).__name__}: {exc})"


def describe(status: str, failure_class: str) -> str:
    return {
        "not-implemented": "not implemented yet",
        "timeout": "ran past the time limit",
        "crash": "crashed",
        "forbidden": "used an API this assignment forbids",
        "error": "the test itself failed (please tell the instructors)",
    }.get(status, f"the {failure_class} check failed")


def import_package(directory: Path, prefix: str) -> ModuleType:
    """Import the package in ``directory`` under a module name unique to that directory."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:12]
    alias = f"{prefix}_{directory.name}_{digest}"
    if alias in sys.modules:
        return sys.modules[alias]
    spec = importlib.util.spec_from_file_location(
        alias, directory / "__init__.py", submodule_search_locations=[str(directory)])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import a package from {directory}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[alias]
        raise
    return module
