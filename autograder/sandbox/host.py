"""The worker's sandbox: detect what the host allows and apply the strongest combination.

Layers, each used when available and reported in the grade's environment fingerprint:

* namespaces (``unshare``): mount, PID, IPC, UTS and network. In the new network namespace
  only a loopback device exists, and it is down: no network at all. The PID namespace means
  the worker sees no other process and everything it forks dies with it.
* a process-count limit: a ``pids`` cgroup (v2 or v1) where the host lets us create one, else
  ``RLIMIT_NPROC`` (which the kernel ignores for root, hence the cgroup).
* inside the mount namespace: the course's ``tests/``, ``solutions/`` and ``.git`` are covered by
  empty read-only tmpfs mounts, and the whole file system is made read-only except the worker's
  scratch directory.
* resource limits: CPU seconds, address space, open files, file size, core dumps off.
* ``PR_SET_NO_NEW_PRIVS``, all capabilities dropped (bounding set included), and, when the
  grader runs as root and the interpreter and packages are readable by others, the uid and
  gid of ``nobody``.
* a scrubbed environment (no secrets, no ``PYTHON*`` variables from the grader).

The parent half (:func:`probe`, :func:`command`, :func:`join_cgroup`) runs in the trusted
process; :func:`apply_inside` runs in the worker before any submission code is imported.
"""

from __future__ import annotations

import ctypes
import functools
import os
import resource
import shutil
import stat
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

NOBODY = 65534
NAMESPACE_FLAGS = ["--mount", "--pid", "--ipc", "--uts", "--net", "--fork", "--kill-child",
                   "--mount-proc"]


@dataclass
class Capabilities:
    """What this host allows; computed once by :func:`probe`."""

    root: bool
    unshare: list[str] = field(default_factory=list)
    cgroup_pids: str | None = None  # parent directory where a pids cgroup can be created
    cgroup_version: str | None = None
    nobody_can_run_python: bool = False

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _unshare_works(flags: list[str]) -> bool:
    exe = shutil.which("unshare")
    if exe is None:
        return False
    try:
        return subprocess.run([exe, *flags, "true"], capture_output=True, timeout=10,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _pids_cgroup_parent() -> tuple[str, str] | None:
    candidates = [("/sys/fs/cgroup/pids", "v1")]
    unified = Path("/sys/fs/cgroup/cgroup.controllers")
    if unified.is_file() and "pids" in unified.read_text().split():
        candidates.insert(0, ("/sys/fs/cgroup", "v2"))
    for path, version in candidates:
        probe_dir = Path(path) / f"llmsoc-probe-{os.getpid()}"
        try:
            probe_dir.mkdir()
            (probe_dir / "pids.max").write_text("8")
            probe_dir.rmdir()
            return path, version
        except OSError:
            try:
                probe_dir.rmdir()
            except OSError:
                pass
    return None


def _world_executable(paths: list[Path]) -> bool:
    """True when uid ``nobody`` could traverse to and read every path given."""
    for p in paths:
        p = p.resolve()
        for d in (p, *p.parents):
            try:
                mode = d.stat().st_mode
            except OSError:
                return False
            need = stat.S_IXOTH if stat.S_ISDIR(mode) else stat.S_IROTH
            if not mode & need:
                return False
    return True


@functools.lru_cache(maxsize=1)
def probe() -> Capabilities:
    """Detect the sandbox layers this host supports (cached for the process)."""
    root = os.geteuid() == 0
    caps = Capabilities(root=root)
    if sys.platform != "linux":
        return caps
    for flags in ([*NAMESPACE_FLAGS] if root else ["--user", "--map-root-user", *NAMESPACE_FLAGS],
                  ["--user", "--map-root-user", "--mount", "--net", "--fork", "--kill-child"]):
        if _unshare_works(flags):
            caps.unshare = flags
            break
    if root:
        found = _pids_cgroup_parent()
        if found:
            caps.cgroup_pids, caps.cgroup_version = found
        import torch

        engine = Path(__file__).resolve().parent
        caps.nobody_can_run_python = _world_executable(
            [Path(sys.executable), Path(os.__file__), Path(torch.__file__), engine])
    return caps


def command(python_args: list[str]) -> list[str]:
    """The worker's command line, wrapped in ``unshare`` when namespaces are available."""
    caps = probe()
    prefix = [shutil.which("unshare") or "unshare", *caps.unshare] if caps.unshare else []
    return [*prefix, sys.executable, *python_args]


def scrubbed_env(scratch: Path, threads: int) -> dict[str, str]:
    """The worker's entire environment: nothing of the grader's leaks through."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(scratch),
        "TMPDIR": str(scratch / "tmp"),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
    }
    for key in ("CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH"):
        if key in os.environ:
            env[key] = os.environ[key]
    return env


def make_cgroup(name: str, max_pids: int) -> Path | None:
    """Create a pids cgroup for one worker; None when the host does not allow it."""
    parent = probe().cgroup_pids
    if parent is None:
        return None
    _sweep_stale_cgroups(Path(parent))
    path = Path(parent) / name
    try:
        path.mkdir(exist_ok=True)
        (path / "pids.max").write_text(str(max_pids))
        return path
    except OSError:
        return None


def join_cgroup(path: Path | None) -> None:
    """Move the calling process into ``path`` (used between fork and exec)."""
    if path is not None:
        with open(path / "cgroup.procs", "w") as f:
            f.write(str(os.getpid()))


def remove_cgroup(path: Path | None) -> None:
    """Remove a worker's cgroup once its last process is gone (retrying for a moment)."""
    if path is None:
        return
    for _ in range(50):
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)  # the killed processes are still being reaped


def _sweep_stale_cgroups(parent: Path, min_age_s: float = 600.0) -> None:
    """Remove empty ``llmsoc-*`` cgroups left by graders that were killed (old ones only, so a
    cgroup another grader has just created is never taken from under it)."""
    now = time.time()
    for path in parent.glob("llmsoc-*"):
        try:
            if now - path.stat().st_mtime > min_age_s:
                path.rmdir()  # fails harmlessly while processes are still inside
        except OSError:
            pass


# -- inside the worker -------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_BIND, MS_REMOUNT, MS_REC = 1, 2, 4, 4096, 32, 16384
PR_SET_NO_NEW_PRIVS, PR_CAPBSET_DROP = 38, 24
MOUNT_ATTR_RDONLY, AT_RECURSIVE, SYS_MOUNT_SETATTR = 0x1, 0x8000, 442


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    rc = _libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None,
                     ctypes.c_ulong(flags), data.encode() if data else None)
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {target}: {os.strerror(err)}")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _set_readonly(path: str, readonly: bool, recursive: bool) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY if readonly else 0, 0 if readonly else MOUNT_ATTR_RDONLY,
                      0, 0)
    rc = _libc.syscall(SYS_MOUNT_SETATTR, -100, path.encode(),
                       AT_RECURSIVE if recursive else 0, ctypes.byref(attr),
                       ctypes.sizeof(attr))
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount_setattr {path}: {os.strerror(err)}")


def _drop_bounding_set() -> None:
    for cap in range(64):
        _libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)


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
    """Apply the sandbox from inside the worker; returns what was applied (for the report)."""
    applied: dict[str, Any] = {"hidden_paths": [], "readonly_fs": False, "rlimits": [],
                               "no_new_privs": False, "capabilities_dropped": False, "uid": None}
    in_mount_ns = bool(cfg.get("namespaces"))
    if _libc is not None and in_mount_ns:
        for path in cfg.get("hide", []):
            if os.path.isdir(path):
                _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4k,mode=000")
                applied["hidden_paths"].append(path)
        scratch = cfg["scratch"]
        _mount(scratch, scratch, None, MS_BIND | MS_REC, None)
        try:
            _set_readonly("/", True, recursive=True)
            _set_readonly(scratch, False, recursive=False)
            applied["readonly_fs"] = True
        except OSError:
            pass  # older kernels: the file system stays writable, reported as such
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
    _drop_bounding_set()  # needs CAP_SETPCAP, so before setuid and capset
    if cfg.get("uid") is not None and os.geteuid() == 0:
        os.setgroups([])
        os.setgid(cfg["uid"])
        os.setuid(cfg["uid"])
    applied["uid"] = os.geteuid()
    applied["no_new_privs"] = _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0
    try:
        _clear_capabilities()
        applied["capabilities_dropped"] = True
    except OSError:
        pass
    return applied
