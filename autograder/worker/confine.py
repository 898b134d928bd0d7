"""Confinement the worker applies to itself before any submission code is imported.

Runs first in the worker (:func:`autograder.worker.server.main`), inside the root bubblewrap
built (:mod:`autograder.sandbox.root`):

* resource limits: CPU seconds, address space, open files, file size, processes, no core dumps;
* the switch to the worker's own unprivileged uid and gid when started as root (bwrap kept only
  the capabilities needed for this; switching clears them), after dropping the bounding set;
* ``PR_SET_NO_NEW_PRIVS`` and an empty capability set.

What was applied goes back to the grader in the worker's hello, for the report's fingerprint;
the grader decides officialness from its own probe, never from this.
"""

from __future__ import annotations

import ctypes
import os
import resource
import sys
from typing import Any

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _clear_capabilities() -> None:
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(_CapHeader(0x20080522, 0)), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def apply_inside(cfg: dict[str, Any]) -> dict[str, Any]:
    """Apply the limits and the uid switch; return what was applied."""
    applied: dict[str, Any] = {"rlimits": [], "no_new_privs": False,
                               "capabilities_dropped": False, "uid": None}
    limits = {
        "RLIMIT_CPU": (cfg["cpu_s"], cfg["cpu_s"] + 5),
        "RLIMIT_NOFILE": (256, 256),
        "RLIMIT_FSIZE": (cfg["fsize_mb"] << 20, cfg["fsize_mb"] << 20),
        "RLIMIT_CORE": (0, 0),
        "RLIMIT_NPROC": (cfg["nproc"], cfg["nproc"]),
    }
    if cfg.get("memory_mb"):
        limits["RLIMIT_AS"] = (cfg["memory_mb"] << 20, cfg["memory_mb"] << 20)
    for name, value in limits.items():
        try:
            resource.setrlimit(getattr(resource, name), value)
            applied["rlimits"].append(name)
        except (ValueError, OSError):
            pass
    if _libc is None:
        return applied
    uid = cfg.get("uid")
    if uid is not None and os.geteuid() == 0:
        for cap in range(64):  # needs CAP_SETPCAP, so before the uid switch
            _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
    applied["uid"] = os.geteuid()
    applied["no_new_privs"] = _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    try:
        _clear_capabilities()
        applied["capabilities_dropped"] = True
    except OSError:
        pass
    return applied
