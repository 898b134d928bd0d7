"""Intake: read a submitted package into memory, following no link and within fixed bounds.

The trusted process reads the student's package once, here, and everything after works on the
resulting :class:`Intake`: the worker receives exactly its files, the submission hash covers
exactly its files, the static checks read exactly its files. Nothing is read twice from a
folder the student controls, so a file cannot change between being checked and being run.

Rules (each breach refuses the whole submission with a message that says which file and why):

* no symbolic link at any component of any path below the submission root: the package folder,
  ``assignments/`` above it, and every file and folder inside (``O_NOFOLLOW`` on each component,
  opened relative to its parent's descriptor, so nothing can be swapped in between);
* only regular files and folders (no FIFOs, devices or sockets), no sparse files;
* at most ``max_files`` files of at most ``max_bytes`` bytes together, at most ``max_files``
  folders, folders at most ``max_depth`` deep, names of at most ``max_name`` characters.

Skipped, silently and by name only (never by what a link points to): ``__pycache__`` folders,
``*.pyc`` files, the handout's ``figures/`` output, and dot-files (``.ipynb_checkpoints``, ...).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

SKIPPED_DIRS = ("__pycache__", "figures")


@dataclass(frozen=True)
class IntakeLimits:
    """Bounds on a submitted package (``[intake]`` in ``assignment.toml`` may change them)."""

    max_bytes: int = 16 << 20
    max_files: int = 400
    max_depth: int = 8
    max_name: int = 100


class IntakeRefused(Exception):
    """The submission breaks an intake rule; the message is written for the student."""


@dataclass
class Intake:
    """A submitted package as read: relative POSIX paths to contents, folders included."""

    package: str
    files: dict[str, bytes] = field(default_factory=dict)
    dirs: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(len(b) for b in self.files.values())

    def digest(self) -> str:
        """SHA-256 over every file the worker receives: its path and its bytes."""
        h = hashlib.sha256()
        for rel in sorted(self.files):
            h.update(rel.encode() + b"\0")
            h.update(hashlib.sha256(self.files[rel]).digest())
        return h.hexdigest()

    def write_to(self, dest: Path) -> None:
        """Materialise the package under ``dest/<package>`` (used where no sandbox root is
        built, such as the unofficial fallback; the sandbox gets the bytes directly)."""
        base = dest / self.package
        base.mkdir(parents=True)
        for rel in self.dirs:
            (base / rel).mkdir(parents=True, exist_ok=True)
        for rel, data in self.files.items():
            (base / rel).write_bytes(data)


def _open_component(parent_fd: int, name: str, shown: str, directory: bool) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    if directory:
        flags |= os.O_DIRECTORY
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _is_link(parent_fd, name)):
            raise IntakeRefused(f"{shown} is a symbolic link; submissions may not contain links "
                                "(commit the file itself)") from None
        if exc.errno == errno.ENOENT:
            raise IntakeRefused(f"{shown} does not exist") from None
        if exc.errno == errno.ENOTDIR:
            raise IntakeRefused(f"{shown} is not a folder") from None
        raise IntakeRefused(f"{shown} cannot be read ({os.strerror(exc.errno)})") from None


def _is_link(parent_fd: int, name: str) -> bool:
    try:
        return stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode)
    except OSError:
        return False


def open_package(root: Path, relative: tuple[str, ...]) -> int:
    """A descriptor of ``root/relative...``, no component below ``root`` being a link.

    ``root`` itself (the submission path the grader was given) must not be a link either; what
    lies above it is the grader's own layout.
    """
    if root.is_symlink():
        raise IntakeRefused(f"the submission path {root.name} is a symbolic link")
    parent = os.open(root.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fd = _open_component(parent, root.name, root.name, directory=True)
    finally:
        os.close(parent)
    shown = []
    for part in relative:
        shown.append(part)
        try:
            fd_next = _open_component(fd, part, "/".join(shown), directory=True)
        finally:
            os.close(fd)
        fd = fd_next
    return fd


def read_package(root: Path, relative: tuple[str, ...], limits: IntakeLimits) -> Intake:
    """Read the package at ``root/relative...`` (see the module docstring for the rules)."""
    fd = open_package(root, relative)
    package = relative[-1] if relative else root.name
    intake = Intake(package=package)
    try:
        _read_dir(fd, "", 1, intake, limits, package)
    finally:
        os.close(fd)
    return intake


def _read_dir(fd: int, prefix: str, depth: int, intake: Intake, limits: IntakeLimits,
              package: str) -> None:
    if depth > limits.max_depth:
        raise IntakeRefused(f"{package}/{prefix} is nested deeper than {limits.max_depth} "
                            "folders")
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        name = entry.name
        rel = prefix + name
        shown = f"{package}/{rel}"
        if len(name) > limits.max_name or not name.isprintable():
            raise IntakeRefused(f"{shown[:200]!r}: names must be printable and at most "
                                f"{limits.max_name} characters")
        mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        if stat.S_ISLNK(mode):
            raise IntakeRefused(f"{shown} is a symbolic link; submissions may not contain links "
                                "(commit the file itself)")
        if name.startswith(".") or (stat.S_ISREG(mode) and name.endswith(".pyc")):
            continue
        if stat.S_ISDIR(mode):
            if name in SKIPPED_DIRS:
                continue
            if len(intake.dirs) >= limits.max_files:  # each becomes arguments of bwrap's
                raise IntakeRefused(f"the package has more than {limits.max_files} folders")
            child = _open_component(fd, name, shown, directory=True)
            try:
                intake.dirs.append(rel)
                _read_dir(child, rel + "/", depth + 1, intake, limits, package)
            finally:
                os.close(child)
        elif stat.S_ISREG(mode):
            intake.files[rel] = _read_file(fd, name, shown, intake, limits)
        else:
            raise IntakeRefused(f"{shown} is not a regular file or folder")


def _read_file(parent_fd: int, name: str, shown: str, intake: Intake,
               limits: IntakeLimits) -> bytes:
    if len(intake.files) >= limits.max_files:
        raise IntakeRefused(f"the package has more than {limits.max_files} files")
    fd = _open_component(parent_fd, name, shown, directory=False)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise IntakeRefused(f"{shown} is not a regular file")
        if intake.total_bytes + st.st_size > limits.max_bytes:
            raise IntakeRefused(f"the package is larger than {_size(limits.max_bytes)} "
                                f"(at {shown})")
        if st.st_size and _has_hole(fd, st.st_size):
            raise IntakeRefused(f"{shown} is a sparse file; submit ordinary files")
        data = b""
        while len(data) < st.st_size:
            chunk = os.pread(fd, st.st_size - len(data), len(data))
            if not chunk:
                break
            data += chunk
        if len(data) != st.st_size or os.pread(fd, 1, len(data)):
            raise IntakeRefused(f"{shown} changed while it was read")
        return data
    finally:
        os.close(fd)


def _size(n: int) -> str:
    """``16 MiB``, or ``100000 bytes`` for a limit under a MiB (``n >> 20`` would say 0 MiB)."""
    return f"{n / (1 << 20):g} MiB" if n >= 1 << 20 else f"{n} bytes"


def _has_hole(fd: int, size: int) -> bool:
    try:
        return os.lseek(fd, 0, os.SEEK_HOLE) < size
    except OSError:  # the file system cannot say: no holes reported
        return False
