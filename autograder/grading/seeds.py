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

MIN_SECRET_CHARS = 32
UNOFFICIAL_SECRET = b"llmsoc-unofficial-preview"
"""Public, so a preview's hidden inputs are predictable: used only when no course secret is set,
and such a run is never official."""
SECRET_FILE = Path(".llmsoc") / "secret"


def course_secret(course_root: Path | None = None) -> tuple[bytes, str]:
    """The course secret and where it came from: ``LLMSOC_SECRET``, else the file named by
    ``LLMSOC_SECRET_FILE``, else ``<course>/.llmsoc/secret`` (``setup.sh`` creates it), else
    the public preview secret (source ``none``)."""
    value = os.environ.get("LLMSOC_SECRET")
    if value:
        return value.encode(), "LLMSOC_SECRET"
    named = os.environ.get("LLMSOC_SECRET_FILE")
    path = Path(named) if named else (course_root / SECRET_FILE if course_root else None)
    if path is not None and path.is_file():
        text = path.read_text().strip()
        if text:
            return text.encode(), str(path if named else SECRET_FILE)
    return UNOFFICIAL_SECRET, "none"


def secret_problem(secret: bytes, source: str) -> str | None:
    """Why ``secret`` cannot seed an official grade, or None."""
    if source == "none":
        return ("no course secret: set LLMSOC_SECRET (at least "
                f"{MIN_SECRET_CHARS} characters, e.g. `openssl rand -hex 32`) or write one to "
                f"{SECRET_FILE} (setup.sh does)")
    if len(secret) < MIN_SECRET_CHARS:
        return (f"the course secret from {source} has {len(secret)} characters; an official "
                f"grade needs at least {MIN_SECRET_CHARS}")
    return None


def _to_int(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def public_seed(nodeid: str, salt: int = 0) -> int:
    return _to_int(hashlib.sha256(f"public|{nodeid}|{salt}".encode()).digest())


def hidden_seed(secret: bytes, submission_hash: str, nodeid: str, salt: int = 0) -> int:
    msg = f"{submission_hash}|{nodeid}|{salt}".encode()
    return _to_int(hmac.new(secret, msg, hashlib.sha256).digest())


def worker_seed(seed: int) -> int:
    """The seed the worker's random generators get for a test seeded with ``seed``: a one-way
    function of it, so ``torch.initial_seed()`` in the worker reveals neither the test's seed
    nor anything derived from it (another test's seed, the course secret)."""
    return _to_int(hashlib.sha256(f"worker|{seed}".encode()).digest())


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
