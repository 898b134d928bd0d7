"""The worker's allow-listed root, built by bubblewrap (``bwrap``, the sandbox Flatpak uses).

The worker sees a fresh tmpfs as ``/`` holding only:

* read-only: the interpreter's prefixes (base and virtual environment, site-packages included),
  the system library folders the interpreter and torch link against (``/usr/lib*``, ``/lib*``,
  ``/etc/ld.so.cache``), the CPU topology under ``/sys/devices/system/cpu``, GPU driver files
  where present, and the engine's worker-side code (``autograder/{common,worker,support}``);
* the submitted package, written by bwrap from descriptors the grader filled (never a path the
  student controls), read-only under ``/submission``;
* a small writable tmpfs ``/scratch`` (``HOME``, ``TMPDIR``, the working directory);
* a new ``/proc`` for its own PID namespace and a minimal ``/dev``;
* empty tmpfs mounts over the data folders of installed packages (gensim's test corpora,
  scikit-learn's data sets) unless the assignment grants them.

So nothing else of the host exists for it: no ``/root``, ``/home``, ``/tmp``, ``/run``, no
course checkout, no sockets, no other grading's files. Namespaces: mount, PID, IPC, UTS, network
(only a loopback device, down) and cgroup; ``--die-with-parent`` ties its life to the grader.
"""

from __future__ import annotations

import glob
import os
import site
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.sandbox.intake import Intake

SUBMISSION_ROOT = "/submission"
SCRATCH = "/scratch"
ENGINE_PARTS = ("__init__.py", "common", "worker", "support")
# Data folders of installed packages: hidden from the worker unless an assignment grants one.
DATA_FOLDERS = ("gensim/test/test_data", "sklearn/datasets/data", "sklearn/datasets/descr",
                "sklearn/datasets/images")
NAMESPACES = ("--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
              "--unshare-cgroup-try")


@dataclass
class RootSpec:
    """What one worker's root holds beyond the interpreter."""

    intake: Intake | None  # None for the host probe
    engine_root: Path  # the folder holding the ``autograder`` package
    granted_data: tuple[str, ...] = ()  # entries of DATA_FOLDERS the assignment needs
    scratch_mb: int = 256
    privileged: bool = True  # grader is root: no user namespace, uid switched inside
    disable_userns: bool = True  # bwrap >= 0.8: no further user namespaces inside
    extra_fds: list[int] = field(default_factory=list)  # filled by :func:`bwrap_args`


def interpreter_paths() -> list[Path]:
    """Folders the interpreter needs: its prefixes and site-packages, deduplicated (a folder
    inside another listed one is dropped)."""
    wanted = {Path(sys.base_prefix), Path(sys.prefix), *map(Path, site.getsitepackages())}
    wanted = {p.resolve() for p in wanted if p.is_dir()}
    return sorted(p for p in wanted if not any(q != p and q in p.parents for q in wanted))


def system_paths() -> list[tuple[str, str]]:
    """``(kind, path)`` of the system folders: ``bind`` for a real folder, ``link`` for a
    merged-``/usr`` symbolic link such as ``/lib -> usr/lib``."""
    out: list[tuple[str, str]] = []
    for name in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32",
                 "/usr/local/nvidia", "/usr/local/cuda"):
        if os.path.islink(name):
            out.append(("link", name))
        elif os.path.isdir(name):
            out.append(("bind", name))
    return out


def _data_masks(granted: tuple[str, ...]) -> list[str]:
    """The package data folders to hide: each of DATA_FOLDERS not granted, in every
    site-packages folder the interpreter can import from."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    sites = {*site.getsitepackages(), os.path.join(sys.base_prefix, "lib", version,
                                                   "site-packages")}
    masks = {os.path.join(sp, rel) for sp in sites for rel in DATA_FOLDERS
             if rel not in granted and os.path.isdir(os.path.join(sp, rel))}
    return sorted(masks)


def memfd(data: bytes) -> int:
    """An anonymous in-memory file holding ``data``, positioned at its start. (Not named
    after the file it carries: memfd names are capped at 249 bytes, paths in a package are
    not.)"""
    fd = os.memfd_create("llmsoc", 0)
    os.write(fd, data)
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def bwrap_args(spec: RootSpec, uid: int) -> list[str]:
    """bwrap's options for ``spec`` (without the command). Descriptors it opens for file
    contents are appended to ``spec.extra_fds``; the caller passes them on and closes them."""
    args = [*NAMESPACES, "--die-with-parent", "--new-session", "--clearenv"]
    if spec.privileged:  # keep only what switching to the worker's uid needs, for a moment
        args += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID",
                 "--cap-add", "CAP_SETPCAP"]
    else:
        args += ["--unshare-user", "--uid", str(uid), "--gid", str(uid)]
        args += ["--disable-userns"] if spec.disable_userns else []
    targets: list[str] = []
    for kind, path in system_paths():
        if kind == "link":
            args += ["--symlink", os.readlink(path), path]
        else:
            args += ["--ro-bind", path, path]
            targets.append(path)
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache",
             "--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    targets += ["/etc/ld.so.cache", "/sys/devices/system/cpu"]
    for p in interpreter_paths():
        args += ["--ro-bind", str(p), str(p)]
        targets.append(str(p))
    engine = spec.engine_root / "autograder"
    for part in ENGINE_PARTS:
        src = engine / part
        if src.exists():
            args += ["--ro-bind", str(src), str(src)]
            targets.append(str(src))
    for mask in _data_masks(spec.granted_data):
        args += ["--perms", "0555", "--tmpfs", mask, "--remount-ro", mask]
    for dev in sorted(glob.glob("/dev/nvidia*")):
        args += ["--dev-bind", dev, dev]
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(spec.scratch_mb << 20), "--perms", "1777", "--tmpfs", SCRATCH,
             "--perms", "1777", "--dir", f"{SCRATCH}/tmp"]
    passwd = f"worker:x:{uid}:{uid}:grading worker:{SCRATCH}:/nonexistent\n".encode()
    group = f"worker:x:{uid}:\n".encode()
    for path, data in (("/etc/passwd", passwd), ("/etc/group", group)):
        fd = memfd(data)
        spec.extra_fds.append(fd)
        args += ["--perms", "0444", "--ro-bind-data", str(fd), path]
    if spec.intake is not None:
        base = f"{SUBMISSION_ROOT}/{spec.intake.package}"
        args += ["--perms", "0555", "--tmpfs", SUBMISSION_ROOT, "--perms", "0555", "--dir", base]
        for rel in spec.intake.dirs:
            args += ["--perms", "0555", "--dir", f"{base}/{rel}"]
        for rel, data in spec.intake.files.items():
            fd = memfd(data)
            spec.extra_fds.append(fd)
            args += ["--perms", "0444", "--file", str(fd), f"{base}/{rel}"]
        args += ["--remount-ro", SUBMISSION_ROOT]
    # Folders bwrap creates on the way to a bind target are 0700 root-owned: open them up.
    on_the_way = {str(p) for t in targets for p in Path(t).parents} - {"/"}
    for folder in sorted(on_the_way):
        if not os.path.islink(folder) and not any(
                folder == t or folder.startswith(t + "/") for t in targets):
            args += ["--chmod", "0755", folder]
    args += ["--chdir", SCRATCH]
    return args
