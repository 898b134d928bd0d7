"""What this host allows, probed once, and the worker's command line built from it.

Modes, strongest first (the report's environment fingerprint names the one used):

``bwrap-root``
    The grader runs as root: bubblewrap builds the allow-listed root (:mod:`.root`) without a
    user namespace, keeping only ``CAP_SETUID``/``CAP_SETGID``/``CAP_SETPCAP``; the worker's
    first act (:mod:`autograder.worker.confine`) is to switch to its own unprivileged uid, which
    clears them. The interpreter may live in a folder only root can read (``/root``): the root
    bwrap builds has world-readable folders on the way to it.
``bwrap-userns``
    The grader is an ordinary user: bubblewrap runs in a new user namespace, the worker is uid
    65534 inside (mapped to the grader's uid outside, never root), and cannot make further user
    namespaces.
``unconfined``
    No working bubblewrap: the worker runs as a plain subprocess with resource limits and a
    scrubbed environment only. Good for a student's self-check; never for an official grade.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from autograder.sandbox import process
from autograder.sandbox.root import RootSpec, bwrap_args, memfd

NOBODY = 65534
INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`; the course's "
                "setup.sh does this when run as root) and allow user namespaces")


@dataclass
class Capabilities:
    """What this host allows; computed once by :func:`probe`."""

    root: bool
    mode: str = "unconfined"
    bwrap: str | None = None
    bwrap_version: str = ""
    cgroup_pids: bool = False
    disable_userns: bool = True  # bwrap can forbid nested user namespaces (0.8 and newer)
    problems: list[str] = field(default_factory=list)

    @property
    def isolated(self) -> bool:
        return self.mode != "unconfined"

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _try(cmd: list[str], fds: list[int], preexec: Any = None) -> str:
    """'' when ``cmd`` runs cleanly, else why not."""
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=60, pass_fds=fds,
                           preexec_fn=preexec, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return "" if r.returncode == 0 else (r.stderr.decode(errors="replace").strip()[-300:]
                                         or f"exit code {r.returncode}")


@functools.lru_cache(maxsize=1)
def probe() -> Capabilities:
    """Detect the strongest sandbox this host supports (cached for the process)."""
    caps = Capabilities(root=os.geteuid() == 0, cgroup_pids=process.pids_parent() is not None)
    exe = shutil.which("bwrap")
    if sys.platform != "linux" or exe is None:
        caps.problems.append(f"no bubblewrap (bwrap) on PATH: {INSTALL_HINT}")
        return caps
    caps.bwrap = exe
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    caps.bwrap_version = version.stdout.strip()
    numbers = tuple(int(x) for x in re.findall(r"\d+", caps.bwrap_version)[:2])
    caps.disable_userns = numbers >= (0, 8)
    engine_root = Path(__file__).resolve().parents[2]
    spec = RootSpec(intake=None, engine_root=engine_root, privileged=caps.root,
                    disable_userns=caps.disable_userns)
    uid = process.worker_uid() if caps.root else NOBODY
    switch = f"import os; os.setgroups([]); os.setgid({uid}); os.setuid({uid})"
    code = switch if caps.root else "import os; assert os.getuid() != 0"
    why = _try([exe, *bwrap_args(spec, uid), sys.executable, "-S", "-c", code], spec.extra_fds)
    for fd in spec.extra_fds:
        os.close(fd)
    if why:
        caps.problems.append(f"bubblewrap cannot build the worker's root here ({why}): "
                             f"{INSTALL_HINT}")
        return caps
    caps.mode = "bwrap-root" if caps.root else "bwrap-userns"
    return caps


def missing_for_official(caps: Capabilities) -> list[str]:
    """The isolation layers an official grade needs and this host lacks."""
    return [] if caps.isolated else list(caps.problems)


def worker_command(spec: RootSpec, uid: int, python_args: list[str],
                   env: dict[str, str]) -> list[str]:
    """The worker's command line: inside bubblewrap when available, else a plain interpreter.

    bwrap's own options (the root's layout, ``env``) reach it through a descriptor
    (``--args``), so its command line, which the worker can read as ``/proc/1/cmdline``, holds
    none of them."""
    caps = probe()
    if not caps.isolated:
        return [sys.executable, *python_args]
    setenv = [a for k, v in env.items() for a in ("--setenv", k, v)]
    options = [*bwrap_args(spec, uid), *setenv]
    fd = memfd(b"".join(a.encode() + b"\0" for a in options))
    spec.extra_fds.append(fd)
    return [caps.bwrap or "bwrap", "--args", str(fd), sys.executable, *python_args]


def scrubbed_env(home: str, threads: int) -> dict[str, str]:
    """The worker's entire environment: nothing of the grader's leaks through."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": f"{home}/tmp",
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    }
    if threads > 1:
        # OpenMP threads waiting at a barrier spin; on a loaded machine the spinning inflates
        # CPU time (4-6x measured with four jobs on two cores), and CPU time is what the
        # per-test budgets count. Passive waiting keeps it steady, at a cost in idle speed:
        # the course's assignments use one thread (see assignment.toml).
        env["OMP_WAIT_POLICY"] = "PASSIVE"
    for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env
