"""The sandboxed worker: imports the submission and serves calls over a pipe.

Started by :class:`autograder.grading.proxy.Worker` as ``python -s -B -c <boot> <config-json>``. It
reads requests on fd 0 and answers on a duplicate of fd 1; the submission's own ``print``
output goes to fd 2 (a log the grader keeps), so nothing it writes can forge an answer.

Requests (plain data, see :mod:`autograder.common.wire`)::

    {"op": "call",    "target": id, "name": str | None, "args": (...), "kwargs": {...},
                      "observe": bool}   # observe: answer [result, args, kwargs] after the call
    {"op": "getattr", "target": id, "name": str}
    {"op": "setattr", "target": id, "name": str, "value": v}
    {"op": "vjp",     "target": id, "name": str | None, "args": ..., "kwargs": ...,
                      "cotangent": ...}
    {"op": "seed",    "seed": int}
    every request may carry "release": [ids] (handles the grader no longer holds) and
    "check_ops": true (refuse the assignment's forbidden operators during it: worker.guards)

Answers are ``{"ok": value, "types": {...}}`` or ``{"error": {"type", "message", "frames"}}``.
Target 0 is the submission package. Values that are not plain data are kept in a handle table
and sent as handles; ``types`` describes each new type once (its method names), so the grader
can call methods in one round trip.
"""

from __future__ import annotations

import importlib
import json
import os
import random
import sys
import threading
import traceback
from typing import Any

from autograder.worker import guards

ROOT_ID = 0


class Server:
    """Handle table plus request dispatch."""

    def __init__(self, package: Any, submission_root: str,
                 forbidden_ops: frozenset[str] = frozenset()):
        self.objects: dict[int, Any] = {ROOT_ID: package}
        self.forbidden_ops = forbidden_ops
        self.next_id = 1
        self.described: set[str] = set()
        self.new_types: dict[str, list[str]] = {}
        self.root = submission_root

    # -- handles --------------------------------------------------------------------------------
    def to_handle(self, obj: Any) -> dict[str, Any]:
        hid = self.next_id
        self.next_id += 1
        self.objects[hid] = obj
        tname = f"{type(obj).__module__}.{type(obj).__qualname__}"
        if tname not in self.described:
            self.described.add(tname)
            self.new_types[tname] = describe_methods(obj)
        return {"$h": hid, "type": tname}

    def from_handle(self, node: dict[str, Any]) -> Any:
        """The object (``$h``) or the object's attribute (``$m``) a message refers to."""
        hid, name = node["$m"] if "$m" in node else (node["$h"], None)
        if hid not in self.objects:
            raise LookupError(f"unknown object handle {hid}")
        return self.objects[hid] if name is None else getattr(self.objects[hid], name)

    # -- dispatch -------------------------------------------------------------------------------
    def handle(self, req: dict[str, Any]) -> Any:
        if req.get("check_ops") and self.forbidden_ops:
            with guards.operator_check(self.forbidden_ops):
                return self._handle(req)
        return self._handle(req)

    def _handle(self, req: dict[str, Any]) -> Any:
        for hid in req.get("release", ()):
            if hid != ROOT_ID:
                self.objects.pop(hid, None)
        op = req["op"]
        if op == "seed":
            seed_everything(int(req["seed"]))
            return None
        target = self.objects[req["target"]]
        if op == "getattr":
            return getattr(target, req["name"])
        if op == "setattr":
            setattr(target, req["name"], req["value"])
            return None
        fn = target if req.get("name") is None else getattr(target, req["name"])
        if op == "call":
            args, kwargs = list(req.get("args", ())), dict(req.get("kwargs", {}))
            out = fn(*args, **kwargs)
            # observe: also the arguments as the call left them (this side's copies)
            return [out, args, kwargs] if req.get("observe") else out
        if op == "vjp":
            from autograder.common.grad import local_vjp, owner_module

            module = owner_module(fn)
            result = local_vjp(fn, tuple(req.get("args", ())), req.get("kwargs", {}),
                               req["cotangent"], module)
            return (result.output, result.input_grads, result.param_grads)
        raise ValueError(f"unknown op {op!r}")


def describe_methods(obj: Any) -> list[str]:
    """Names callable as methods of ``obj`` (one round trip each), plus ``__call__``."""
    cls = type(obj)
    names = [n for n in dir(cls) if not n.startswith("__") and callable(getattr(cls, n, None))
             and not isinstance(getattr(cls, n, None), type)]
    if callable(obj):
        names.append("__call__")
    if isinstance(obj, type(sys)):  # a module: its functions and classes
        names = [n for n in dir(obj) if not n.startswith("_") and callable(getattr(obj, n))]
    return names


def warm_up_optimizers() -> None:
    import torch

    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)


def seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def error_payload(exc: BaseException, root: str) -> dict[str, Any]:
    """Type, message and the submission's own traceback frames (paths made relative)."""
    frames = []
    for fs in traceback.extract_tb(exc.__traceback__):
        if fs.filename.startswith(root):
            frames.append([os.path.relpath(fs.filename, root), fs.lineno, fs.name, fs.line or ""])
    if isinstance(exc, SyntaxError) and exc.filename and exc.filename.startswith(root):
        frames.append([os.path.relpath(exc.filename, root), exc.lineno or 0, "<module>",
                       (exc.text or "").strip()])
    message = str(exc)
    if len(message) > 2000:
        message = message[:2000] + " ..."
    return {"type": type(exc).__name__, "message": message, "frames": frames}


def main() -> None:
    cfg = json.loads(sys.argv[1])
    proto_in = 0
    proto_out = os.dup(1)
    os.dup2(2, 1)  # the submission's prints go to the log, never into the protocol
    sys.stdout = os.fdopen(1, "w", buffering=1, closefd=False)

    from autograder.common import wire as encoding
    from autograder.worker import confine

    applied = confine.apply_inside(cfg)
    import numpy as np  # noqa: F401 - imported before the submission can tamper with sys.modules
    import torch

    torch.set_num_threads(cfg.get("threads", 1))
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    root = cfg["submission_root"]
    applied["unguarded"] = guards.install_guards(tuple(cfg.get("forbidden", ())), root)
    if cfg.get("forbidden_ops"):  # its first use loads torch's dispatch machinery (about 1.5 s):
        with guards.operator_check(frozenset()):  # here, before any test's budget runs
            torch.zeros(1).add_(1)
    os.chdir(cfg["scratch"])
    sys.path.insert(0, root)

    def send(obj: Any, server: Server | None = None) -> None:
        header, bufs = encoding.encode(obj, server.to_handle if server else None)
        encoding.write_message(proto_out, header, bufs)

    server_pid = os.getpid()

    def close_protocol_in_child() -> None:
        os.close(proto_in)
        os.close(proto_out)

    os.register_at_fork(after_in_child=close_protocol_in_child)
    try:
        seed_everything(0)
        package = importlib.import_module(cfg["package"])
    except BaseException as exc:  # noqa: BLE001 - any import failure is the submission's
        if os.getpid() == server_pid:
            send({"hello": {"error": error_payload(exc, root), "sandbox": applied}})
        return
    if os.getpid() != server_pid:
        os._exit(0)
    server = Server(package, root, frozenset(cfg.get("forbidden_ops", ())))
    send({"hello": {"callables": describe_methods(package), "sandbox": applied}})
    # The first optimizer a process builds imports torch._dynamo (about 2 s). Do it in the
    # background now, so the first timed test that trains something does not pay for it.
    threading.Thread(target=warm_up_optimizers, daemon=True).start()
    while True:
        try:
            header, bufs = encoding.read_message(proto_in)
        except EOFError:
            return
        server.new_types = {}
        seq = None
        try:
            req = encoding.decode(header, bufs, server.from_handle)
            seq = req.get("seq")
            result: dict[str, Any] = {"ok": server.handle(req)}
        except BaseException as exc:  # noqa: BLE001 - SystemExit from student code included
            result = {"error": error_payload(exc, root)}
        result["seq"] = seq
        if os.getpid() != server_pid:  # a child forked by student code (e.g. via libc) ends here
            os._exit(0)
        try:
            # the same dict the encoder fills while it turns "ok" into handles; "ok" is encoded
            # first, so "types" describes every type the answer introduces
            result["types"] = server.new_types
            send(result, server)
        except Exception as exc:  # noqa: BLE001 - e.g. an unencodable value
            send({"error": error_payload(exc, root), "types": server.new_types, "seq": seq})


if __name__ == "__main__":
    main()
