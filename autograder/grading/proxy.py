"""The trusted side of the pipe: the worker process and proxies to objects living in it.

:class:`Worker` starts the sandboxed worker (:mod:`autograder.sandbox`) on the submission as
the intake read it, sends requests and waits for answers under the running test's
:class:`~autograder.grading.budget.Budget`. A call that breaks its budget, or a worker that dies,
gets the worker killed (with everything it started) and a :class:`WorkerTimeout` or
:class:`WorkerCrashed`; the next call starts a fresh worker, so only the tests it was serving
lose points. Objects from an earlier worker raise :class:`StaleHandle`.

Proxies::

    sub = Submission(worker)          # the student's package
    sub.softmax(x)                    # call a function -> plain data
    m = sub.MLP(2, 16, 2)             # construct -> RemoteObject
    m(x); m.forward(x); m.state_dict(); m.training; m.lr = 0.1
    m.forward.vjp(x, cotangent=g)     # gradients computed in the worker
    observed_call(sub.mask, x).args   # the arguments as the call left them
"""

from __future__ import annotations

import copy
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.common import wire as encoding
from autograder.common.grad import VJP
from autograder.grading import feedback
from autograder.grading.budget import Budget
from autograder.grading.errors import (
    StaleHandle,
    SubmissionError,
    WorkerCrashed,
    WorkerError,
    WorkerTimeout,
    remote_exception,
)
from autograder.sandbox import host, process, root
from autograder.sandbox.intake import Intake

BOOT = ("import sys; sys.path.insert(0, {engine!r}); "
        "from autograder.worker.server import main; main()")
ENGINE_ROOT = Path(__file__).resolve().parents[2]
UNTIMED_CALL_S = 600.0  # a call outside any test (fixtures at collection, the engine's tests)
FRAME_S = 120.0  # to finish sending a frame once it has begun
POLL_S = 0.25


@dataclass
class WorkerOptions:
    """How to start workers for one assignment."""

    intake: Intake  # the submitted package, as the intake read it
    forbidden: tuple[str, ...] = ()
    forbidden_ops: tuple[str, ...] = ()  # operators the worker refuses while check_ops is on
    granted_data: tuple[str, ...] = ()
    memory_mb: int = 4096
    cpu_s: int = 600
    fsize_mb: int = 64
    max_pids: int = 64
    scratch_mb: int = 512
    threads: int = 0  # 0: all cores
    sandboxed: bool = True  # False only for the engine's own comparisons (benchmarks)
    start_timeout_s: float = 120.0


class Worker:
    """One sandboxed worker process at a time, restarted after a timeout or crash."""

    def __init__(self, options: WorkerOptions):
        self.options = options
        self.proc: subprocess.Popen[bytes] | None = None
        self.generation = 0
        self.budget: Budget | None = None  # set per test by the pytest plugin
        self.callables: set[str] = set()
        self.types: dict[str, list[str]] = {}
        self.import_error: SubmissionError | WorkerError | None = None
        self.sandbox_report: dict[str, Any] = {}
        self.pending_release: list[int] = []
        self.pending_seed: int | None = None
        self.restarts = 0
        self.touched: set[str] = set()  # names the running test asked for (grading.forbidden)
        self.check_ops = False  # the operator check for this test's calls (see begin_test)
        self.seq = 0  # of the last request sent; each answer must echo it
        self.timeout_reason = ""
        self.scratch: Path | None = None  # only where no sandbox root is built
        self.cgroup: Path | None = None
        self.log_fd = os.memfd_create("llmsoc-worker-log", os.MFD_CLOEXEC)
        self._lock = threading.Lock()

    @property
    def threads(self) -> int:
        return self.options.threads or os.cpu_count() or 1

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start a worker if none is running (idempotent)."""
        with self._lock:
            if self.proc is None and self.import_error is None:
                self._start()

    def begin_test(self, timeout_s: float, check_ops: bool = True) -> None:
        """Budget the test's calls; ``check_ops``: refuse forbidden operators in them (a cost
        of 7-20 us per operator, so the plugin leaves it off for training tests)."""
        self.budget = Budget(timeout_s, self.threads)
        self.check_ops = check_ops

    def end_test(self) -> None:
        self.budget = None
        self.check_ops = False

    def _start(self) -> None:
        opts = self.options
        caps = host.probe()
        isolated = opts.sandboxed and caps.isolated
        uid = process.worker_uid() if caps.root else host.NOBODY
        if isolated:
            home, sub_root = root.SCRATCH, root.SUBMISSION_ROOT
        else:
            self.scratch = Path(tempfile.mkdtemp(prefix="llmsoc-sandbox-"))
            (self.scratch / "tmp").mkdir()
            opts.intake.write_to(self.scratch / "submission")
            home, sub_root = str(self.scratch), str(self.scratch / "submission")
        cfg = {
            "package": opts.intake.package,
            "submission_root": sub_root,
            "scratch": home,
            "forbidden": list(opts.forbidden),
            "forbidden_ops": list(opts.forbidden_ops),
            "cpu_s": opts.cpu_s, "fsize_mb": opts.fsize_mb, "nproc": opts.max_pids,
            "memory_mb": opts.memory_mb if opts.sandboxed else 0,
            "uid": uid if isolated and caps.root else None,
            "threads": self.threads,
        }
        args = ["-s", "-B", "-c", BOOT.format(engine=str(ENGINE_ROOT)), json.dumps(cfg)]
        env = host.scrubbed_env(home, self.threads)
        spec = root.RootSpec(intake=opts.intake, engine_root=ENGINE_ROOT,
                             granted_data=opts.granted_data, scratch_mb=opts.scratch_mb,
                             privileged=caps.root, disable_userns=caps.disable_userns)
        self.cgroup = process.make_cgroup(opts.max_pids) if opts.sandboxed else None
        cgroup = self.cgroup
        try:  # building the root (memfds) and starting the process
            cmd = (host.worker_command(spec, uid, args, env) if isolated
                   else [sys.executable, *args])
            self.proc = process.spawn(
                cmd, lambda: process.join_cgroup(cgroup), stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=self.log_fd, env=env,
                cwd=str(self.scratch or "/"), start_new_session=True, pass_fds=spec.extra_fds)
        except OSError as exc:  # the host, not the submission: every test says so
            self.import_error = WorkerCrashed(f"could not be started ({exc})")
            self._kill()
            return
        finally:
            for fd in spec.extra_fds:
                os.close(fd)
        os.set_blocking(self.proc.stdin.fileno(), False)
        self.generation += 1
        self.types = {}
        start_budget = Budget(opts.start_timeout_s, self.threads)
        try:
            hello = self._receive(start_budget)["hello"]
        except (WorkerCrashed, WorkerTimeout) as exc:
            self.import_error = SubmissionError(
                "ImportError", f"the submission could not be imported: the worker {exc}")
            self.import_error.at_import = True
            return
        self.sandbox_report = {"mode": caps.mode if isolated else "unconfined",
                               "layers": caps.describe(),
                               "applied": _applied_report(hello.get("sandbox"))}
        if "error" in hello:
            err = hello["error"]
            self.import_error = remote_exception(err["type"], err["message"], err["frames"])
            self.import_error.at_import = True
            self._kill()
            return
        self.callables = set(hello.get("callables") or ())

    def cpu_seconds(self) -> float:
        """CPU time used so far by the current worker process and all it started."""
        return process.cpu_seconds(self.proc.pid) if self.proc is not None else 0.0

    def _kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.kill()
            proc.wait()
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass
        process.remove_cgroup(self.cgroup)
        self.cgroup = None
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
            self.scratch = None

    def close(self) -> None:
        """Stop the worker for good: its handles become stale and its log is dropped."""
        with self._lock:
            self._kill()
            if self.log_fd >= 0:
                os.close(self.log_fd)
                self.log_fd = -1

    def log_tail(self, start: int = 0, limit: int = 4000) -> str:
        """What the submission printed since byte ``start`` (at most ``limit`` bytes)."""
        try:
            data = os.pread(self.log_fd, limit + 1, start)
        except OSError:
            return ""
        text = data[:limit].decode(errors="replace")
        return text + ("\n... (output truncated)" if len(data) > limit else "")

    def log_size(self) -> int:
        try:
            return os.fstat(self.log_fd).st_size
        except OSError:
            return 0

    # -- requests -------------------------------------------------------------------------------
    def request(self, req: dict[str, Any], generation: int | None = None) -> Any:
        """Send one request and return the decoded ``ok`` value (or raise)."""
        with self._lock:
            if self.proc is None and self.import_error is None:
                self._start()
            if self.import_error is not None:
                raise self.import_error
            if generation is not None and generation != self.generation:
                raise StaleHandle("this object belongs to a worker that was restarted after a "
                                  "timeout or crash; create it again")
            if self.pending_seed is not None:
                self._send({"op": "seed", "seed": self.pending_seed})
                self.pending_seed = None
            return self._send(req)

    def _send(self, req: dict[str, Any]) -> Any:
        if self.pending_release:
            req = {**req, "release": self.pending_release}
            self.pending_release = []
        self.seq += 1
        if self.check_ops and self.options.forbidden_ops:
            req = {**req, "check_ops": True}
        header, bufs = encoding.encode({**req, "seq": self.seq})
        budget = self.budget or Budget(UNTIMED_CALL_S, self.threads)
        try:
            encoding.write_message(self.proc.stdin.fileno(), header, bufs,
                                   time.monotonic() + budget.wall_cap_s)
            answer = self._receive(budget, self.seq)
        except BrokenPipeError:
            raise self._failure(timed_out=False) from None
        except TimeoutError:
            raise self._failure(timed_out=True) from None
        if "error" in answer:
            err = answer["error"]
            raise remote_exception(err["type"], err["message"], err["frames"])
        return answer["ok"]

    def _wait_readable(self, budget: Budget) -> None:
        """Wait for the worker's answer to begin, under ``budget`` (see grading.budget)."""
        fd = self.proc.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
        budget.begin_request(self.cpu_seconds())
        try:
            while not poller.poll(POLL_S * 1000):
                why = budget.exceeded(self.cpu_seconds())
                if why is not None:
                    self.timeout_reason = why
                    raise TimeoutError(why)
        finally:
            budget.end_request()

    def _receive(self, budget: Budget, seq: int | None = None) -> dict[str, Any]:
        """The next answer, checked frame by frame: anything malformed, oversized or out of
        order (another request's ``seq``) kills the worker and costs only the current test."""
        try:
            self._wait_readable(budget)
            header, bufs = encoding.read_message(self.proc.stdout.fileno(),
                                                 time.monotonic() + FRAME_S)
            answer = _checked_answer(encoding.decode(header, bufs, self._proxy_for), seq)
            self.types.update(answer.get("types") or {})
            return answer
        except TimeoutError:
            raise self._failure(timed_out=True) from None
        except (EOFError, encoding.EncodingError, ValueError, KeyError, TypeError,
                RecursionError, OverflowError):
            raise self._failure(timed_out=False) from None

    def _failure(self, timed_out: bool) -> Exception:
        """Kill the worker and explain why it stopped answering."""
        proc = self.proc
        code = None
        if proc is not None:
            try:  # a worker that closed the pipe is exiting: give it a moment to say how
                code = proc.wait(timeout=0 if timed_out else 2)
            except subprocess.TimeoutExpired:
                code = None
        self._kill()
        self.restarts += 1
        if self.budget is not None:
            self.budget.restart()
        if timed_out:
            why, self.timeout_reason = self.timeout_reason, ""
            return WorkerTimeout(f"{why or 'did not answer in time'} and was stopped")
        if code is None or code == 0:
            return WorkerCrashed("stopped answering (it closed the pipe or sent garbage)")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            why = {"SIGXCPU": " (CPU time limit)", "SIGKILL": " (killed, e.g. memory limit)",
                   "SIGSEGV": " (segmentation fault)", "SIGXFSZ": " (file size limit)"}
            return WorkerCrashed(f"crashed with signal {name}{why.get(name, '')}")
        return WorkerCrashed(f"exited with code {code} in the middle of a call")

    def _proxy_for(self, node: dict[str, Any]) -> RemoteObject:
        if "$h" not in node:  # the worker may only send objects, never method references
            raise encoding.EncodingError("unexpected method reference from the worker")
        return RemoteObject(self, node["$h"], node.get("type", ""), self.generation)


def _applied_report(applied: Any) -> dict[str, Any]:
    """The worker's account of its own confinement, for the report's fingerprint: only the
    known fields, of the expected types (it is the worker's word, never a basis for a
    decision)."""
    applied = applied if isinstance(applied, dict) else {}
    names = [feedback.clean(n, 60) for n in applied.get("rlimits", ())
             if isinstance(n, str)][:10] if isinstance(applied.get("rlimits"), list) else []
    unguarded = applied.get("unguarded")
    return {
        "rlimits": names,
        "no_new_privs": applied.get("no_new_privs") is True,
        "capabilities_dropped": applied.get("capabilities_dropped") is True,
        "uid": applied.get("uid") if type(applied.get("uid")) is int else None,
        "unguarded": [feedback.clean(n, 200) for n in unguarded if isinstance(n, str)][:100]
        if isinstance(unguarded, list) else [],
    }


def _checked_answer(answer: Any, seq: int | None) -> dict[str, Any]:
    """``answer`` if it has the shape the worker's protocol promises, else ``ValueError``."""
    if not isinstance(answer, dict) or answer.get("seq") != seq:
        raise ValueError("malformed or out-of-order answer")
    body = answer.get("hello", answer)
    if not isinstance(body, dict) or ("ok" not in body and "error" not in body
                                      and "callables" not in body):
        raise ValueError("malformed answer")
    err = body.get("error")
    if err is not None and not (isinstance(err, dict) and {"type", "message", "frames"} <= set(
            err) and isinstance(err["type"], str) and isinstance(err["message"], str)):
        raise ValueError("malformed error frame")
    types = answer.get("types") or {}
    if not (isinstance(types, dict) and all(
            isinstance(k, str) and isinstance(v, list) and all(isinstance(n, str) for n in v)
            for k, v in types.items())):
        raise ValueError("malformed type descriptions")
    callables = body.get("callables", [])
    if not (isinstance(callables, list) and all(isinstance(n, str) for n in callables)):
        raise ValueError("malformed callables")
    return answer


@dataclass(frozen=True)
class Observed:
    """A call's result and its arguments as the call left them (see :func:`observed_call`)."""

    result: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]


def observed_call(fn: Any, *args: Any, **kwargs: Any) -> Observed:
    """``fn(*args, **kwargs)`` and what it did to its arguments, for a remote callable and for
    a local one alike (``--llmsoc-debug``; the call then gets deep copies, so the test's own
    values stay as they were either way)."""
    if isinstance(fn, (RemoteCallable, RemoteObject)):
        target = fn if isinstance(fn, RemoteCallable) else RemoteCallable(
            fn._worker, fn._id, None, fn._generation, fn._type, fn)
        return target.observe(*args, **kwargs)
    args_copy, kwargs_copy = copy.deepcopy((args, kwargs))
    return Observed(fn(*args_copy, **kwargs_copy), tuple(args_copy), kwargs_copy)


class RemoteCallable:
    """A function, method or callable object in the worker."""

    __llmsoc_remote__ = True

    def __init__(self, worker: Worker, target: int, name: str | None, generation: int,
                 label: str, owner: RemoteObject | None = None):
        self._worker, self._target, self._name = worker, target, name
        self._generation, self._label = generation, label
        self._owner = owner  # keeps the worker-side object alive while its method is in use

    @property
    def __llmsoc_method__(self) -> tuple[int, str | None]:
        """How this callable is sent back to the worker as an argument."""
        if self._generation != self._worker.generation:
            raise StaleHandle("this function belongs to a worker that was restarted")
        return (self._target, self._name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._worker.request({"op": "call", "target": self._target, "name": self._name,
                                     "args": args, "kwargs": kwargs}, self._generation)

    def observe(self, *args: Any, **kwargs: Any) -> Observed:
        """Call, and see the arguments as the call left them (the worker works on copies of
        what is sent, so an in-place change is visible only this way)."""
        out, args_after, kwargs_after = self._worker.request(
            {"op": "call", "target": self._target, "name": self._name, "args": args,
             "kwargs": kwargs, "observe": True}, self._generation)
        return Observed(out, tuple(args_after), dict(kwargs_after))

    def vjp(self, *args: Any, cotangent: Any, **kwargs: Any) -> VJP:
        """Output and vector-Jacobian product, computed in the worker (autograder.common.grad)."""
        out, input_grads, param_grads = self._worker.request(
            {"op": "vjp", "target": self._target, "name": self._name, "args": args,
             "kwargs": kwargs, "cotangent": cotangent}, self._generation)
        return VJP(out, tuple(input_grads), param_grads)

    def __repr__(self) -> str:
        return f"<remote {self._label}>"


class RemoteObject:
    """An object living in the worker. Attribute reads return data or further proxies."""

    __llmsoc_remote__ = True

    def __init__(self, worker: Worker, hid: int, type_name: str, generation: int):
        object.__setattr__(self, "_worker", worker)
        object.__setattr__(self, "_id", hid)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_generation", generation)
        object.__setattr__(self, "__llmsoc_handle__", encoding.Handle(hid, type_name))

    def _methods(self) -> list[str]:
        return self._worker.types.get(self._type, [])

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        self._worker.touched.add(name)
        if name in self._methods():
            return RemoteCallable(self._worker, self._id, name, self._generation,
                                  f"{self._type}.{name}", self)
        return self._worker.request({"op": "getattr", "target": self._id, "name": name},
                                    self._generation)

    def __setattr__(self, name: str, value: Any) -> None:
        self._worker.touched.add(name)
        self._worker.request({"op": "setattr", "target": self._id, "name": name,
                              "value": value}, self._generation)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return RemoteCallable(self._worker, self._id, None, self._generation, self._type,
                              self)(*args, **kwargs)

    def vjp(self, *args: Any, cotangent: Any, **kwargs: Any) -> VJP:
        return RemoteCallable(self._worker, self._id, None, self._generation, self._type,
                              self).vjp(*args, cotangent=cotangent, **kwargs)

    def __del__(self) -> None:
        try:
            if self._worker.generation == self._generation:
                self._worker.pending_release.append(self._id)
        except Exception:  # noqa: BLE001 - interpreter shutdown
            pass

    def __repr__(self) -> str:
        return f"<remote {self._type} #{self._id}>"


class Submission:
    """The student's package, as seen from the trusted side."""

    def __init__(self, worker: Worker):
        self._worker = worker

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        w = self._worker
        w.touched.add(name)
        w.start()
        if w.import_error is not None:
            raise w.import_error
        if name in w.callables:
            return RemoteCallable(w, 0, name, w.generation, name)
        return w.request({"op": "getattr", "target": 0, "name": name}, w.generation)

    def __repr__(self) -> str:
        return f"<submission {self._worker.options.intake.package}>"
