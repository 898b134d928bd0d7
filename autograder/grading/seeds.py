"""Per-test seeds: fixed for public tests, secret and per-submission for official hidden tests.

    public test:           seed = H("public" | nodeid | salt)
    hidden test, official: seed = HMAC-SHA256(course secret, submission hash | nodeid | salt)

so the same submission always gets the same inputs (and grade), while no student can predict
the hidden inputs without the course secret (``LLMSOC_SECRET``). ``salt`` varies the seeds for
``llmsoc validate --seeds N``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

DEFAULT_SECRET = "llmsoc-default-course-secret"


def course_secret() -> tuple[bytes, str]:
    """The secret and where it came from (``env`` or ``default``)."""
    value = os.environ.get("LLMSOC_SECRET")
    if value:
        return value.encode(), "env"
    return DEFAULT_SECRET.encode(), "default"


def _to_int(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def public_seed(nodeid: str, salt: int = 0) -> int:
    return _to_int(hashlib.sha256(f"public|{nodeid}|{salt}".encode()).digest())


def hidden_seed(secret: bytes, submission_hash: str, nodeid: str, salt: int = 0) -> int:
    msg = f"{submission_hash}|{nodeid}|{salt}".encode()
    return _to_int(hmac.new(secret, msg, hashlib.sha256).digest())


def tree_hash(root: Path, suffixes: tuple[str, ...] = ()) -> str:
    """SHA-256 over the relative paths and contents of the regular files under ``root``
    (symbolic links are skipped: they are not followed out of the tree)."""
    h = hashlib.sha256()
    if not root.exists():
        return h.hexdigest()
    for p in sorted(root.rglob("*")):
        if p.is_symlink() or not p.is_file() or "__pycache__" in p.parts or p.suffix == ".pyc":
            continue
        if suffixes and p.suffix not in suffixes:
            continue
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()
