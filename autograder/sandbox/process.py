"""A worker process's life seen from the trusted side: start, uid, CPU meter, cgroup, end.

* Workers are started from one long-lived thread (:func:`spawn`). bwrap's
  ``--die-with-parent`` is a parent-death signal, and Linux sends it when the *thread* that
  forked the child ends; starting from short-lived threads would kill workers early.
* Each worker gets its own unprivileged uid (:func:`worker_uid`), so ``RLIMIT_NPROC`` counts its
  processes alone and no two workers can signal or read each other.
* :func:`cpu_seconds` sums the CPU time of the worker's whole process tree (exited children
  that were reaped included): per-test budgets are counted in it, so a loaded machine, which
  stretches wall-clock time, does not change a grade.
* A ``pids`` cgroup, where the host allows one, caps the number of processes even for workers
  that share a uid (the unofficial fallback).
"""

from __future__ import annotations

import functools
import itertools
import os
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

UID_BASE = 1_900_000_000  # far above any account a host creates
UID_RANGE = 50_000_000
_counter = itertools.count()
_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="llmsoc-spawner")
_TICKS = os.sysconf("SC_CLK_TCK")


def worker_uid() -> int:
    """A fresh unprivileged uid for one worker process."""
    return UID_BASE + (os.getpid() * 4096 + next(_counter)) % UID_RANGE


def spawn(cmd: list[str], preexec: Callable[[], None] | None = None,
          **popen: Any) -> subprocess.Popen[bytes]:
    """``subprocess.Popen`` on the spawner thread (see the module docstring for why)."""
    return _spawner.submit(subprocess.Popen, cmd, preexec_fn=preexec, **popen).result()


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _own_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    # utime, stime, cutime, cstime are fields 14-17 of stat(5); here 0-based after the name
    return sum(int(x) for x in fields[11:15]) / _TICKS


def cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and everything below it."""
    total, todo, seen = 0.0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _own_cpu(p)
        todo += _children(p)
    return total


# -- pids cgroups --------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def pids_parent() -> Path | None:
    """Where this process can create pids cgroups (probed once, on first use), or None."""
    if os.geteuid() != 0:
        return None
    unified = Path("/sys/fs/cgroup/cgroup.controllers")
    candidates = [Path("/sys/fs/cgroup/pids")]
    if unified.is_file() and "pids" in unified.read_text().split():
        candidates.insert(0, Path("/sys/fs/cgroup"))
    for parent in candidates:
        probe = parent / f"llmsoc-{os.getpid()}-probe"
        try:
            probe.mkdir()
            (probe / "pids.max").write_text("8")
            probe.rmdir()
            return parent
        except OSError:
            try:
                probe.rmdir()
            except OSError:
                pass
    return None


def make_cgroup(max_pids: int) -> Path | None:
    """A pids cgroup for one worker; None when the host does not allow it."""
    parent = pids_parent()
    if parent is None:
        return None
    sweep_cgroups(parent)
    path = parent / f"llmsoc-{os.getpid()}-{next(_counter)}"
    try:
        path.mkdir()
        (path / "pids.max").write_text(str(max_pids))
        return path
    except OSError:
        return None


def join_cgroup(path: Path | None) -> None:
    """Move the calling process into ``path`` (between fork and exec)."""
    if path is not None:
        with open(path / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))


def remove_cgroup(path: Path | None) -> None:
    """Remove a worker's cgroup once its processes are gone (retrying for a moment)."""
    if path is None:
        return
    for _ in range(100):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)  # the killed processes are still being reaped


def sweep_cgroups(parent: Path) -> None:
    """Remove the empty cgroups of graders that no longer run (a grader killed by SIGKILL
    cannot remove its own)."""
    for path in parent.glob("llmsoc-*-*"):
        try:
            owner = int(path.name.split("-")[1])
        except ValueError:
            continue
        if owner != os.getpid() and not Path(f"/proc/{owner}").exists():
            try:
                path.rmdir()
            except OSError:
                pass
