"""Signed results: an official grade nobody but the grading runner can produce.

The runner holds an Ed25519 private key; instructors (and anyone else) hold its public key. A
signed result is one JSON document::

    {
      "format": "llmsoc-signed-result/1",
      "claims": {"repository": "course/alice", "commit": "<40 hex>",
                 "assignments": ["w2_pytorch_basics"], "earned": 57.0, "points": 60.0,
                 "suite_hash": "<sha256>", "engine_version": "0.1.0+<12 hex>",
                 "graded_at": "2026-11-29T23:59:00+00:00", "report_sha256": "<sha256>"},
      "report": { ...the JSON grade report (report.schema.json)... },
      "signature": {"algorithm": "ed25519", "key_id": "<16 hex>", "value": "<base64>"}
    }

The signature covers ``DOMAIN + canonical(claims)``, where ``canonical`` is JSON with sorted keys
and no whitespace. ``report_sha256`` is SHA-256 of ``canonical(report)``, so the per-test scores
and feedback are covered too. :func:`verify` accepts a result only when the key is trusted, the
signature is valid, the report matches its digest and agrees with the claims (totals, assignment
names, suite hash, official), and the claims match what the caller expects (repository, commit,
assignment): a result copied onto another commit or assignment is refused.

Key formats: the private key is PKCS#8 PEM (``llmsoc keygen``); a public key is one line
``ed25519 <base64 of the 32 raw bytes> [comment]``, and its id is the first 16 hex digits of
the SHA-256 of the raw bytes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from autograder import __version__
from autograder.grading import seeds
from autograder.grading.report import Report
from autograder.results.github_api import check_commit, check_repository

FORMAT = "llmsoc-signed-result/1"
DOMAIN = FORMAT.encode() + b"\n"
ALGORITHM = "ed25519"
CLAIM_KEYS = frozenset({"repository", "commit", "assignments", "earned", "points", "suite_hash",
                        "engine_version", "graded_at", "report_sha256"})


class VerificationError(Exception):
    """The result is unsigned, tampered with, signed by an unknown key, or not the one expected."""


# --------------------------------------------------------------------------- encoding


def canonical(obj: Any) -> bytes:
    """The one byte string signed for ``obj``: JSON, sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def engine_version() -> str:
    """``<package version>+<first 12 hex of the engine's source hash>``."""
    return f"{__version__}+{seeds.tree_hash(Path(__file__).resolve().parents[1], ('.py',))[:12]}"


# --------------------------------------------------------------------------- keys


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def load_private_key(pem: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.strip().encode() + b"\n", password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key is not an Ed25519 key")
    return key


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    return sha256_hex(_raw(public))[:16]


def public_key_line(public: Ed25519PublicKey, comment: str = "") -> str:
    line = f"{ALGORITHM} {base64.b64encode(_raw(public)).decode()}"
    return f"{line} {comment}".rstrip()


def load_public_keys(text: str) -> dict[str, Ed25519PublicKey]:
    """Trusted keys by id from ``ed25519 <base64> [comment]`` lines (``#`` comments allowed)."""
    keys: dict[str, Ed25519PublicKey] = {}
    for n, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts or parts[0].startswith("#"):
            continue
        try:
            if parts[0] != ALGORITHM or len(parts) < 2:
                raise ValueError
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(parts[1],
                                                                         validate=True))
        except (ValueError, binascii.Error):
            raise ValueError(f"public key line {n}: expected 'ed25519 <base64> [comment]'"
                             ) from None
        keys[key_id(public)] = public
    return keys


# --------------------------------------------------------------------------- sign


def claims_for(report: dict[str, Any], repository: str, commit: str) -> dict[str, Any]:
    """What the runner vouches for, derived from an official report."""
    if report.get("official") is not True:
        raise ValueError("only an official grade (`llmsoc grade`) can be signed, not a preview")
    parsed = Report.from_dict(report)
    return {
        "repository": check_repository(repository),
        "commit": check_commit(commit),
        "assignments": [a.name for a in parsed.assignments],
        "earned": round(parsed.earned, 6),
        "points": round(parsed.points, 6),
        "suite_hash": str(report.get("environment", {}).get("suite_hash", "")),
        "engine_version": engine_version(),
        "graded_at": str(report.get("created", "")),
        "report_sha256": sha256_hex(canonical(report)),
    }


def sign(report: dict[str, Any], repository: str, commit: str,
         key: Ed25519PrivateKey) -> dict[str, Any]:
    """The signed result for ``report`` graded on ``repository`` at ``commit``."""
    claims = claims_for(report, repository, commit)
    signature = key.sign(DOMAIN + canonical(claims))
    return {
        "format": FORMAT,
        "claims": claims,
        "report": report,
        "signature": {"algorithm": ALGORITHM, "key_id": key_id(key.public_key()),
                      "value": base64.b64encode(signature).decode()},
    }


# --------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Verified:
    """A result that passed :func:`verify`."""

    claims: dict[str, Any]
    report: dict[str, Any]
    key_id: str
    signature: str


def parse_result(data: bytes, source: str = "result") -> dict[str, Any]:
    """Parse a result's bytes; anything that is not a UTF-8 JSON object is refused."""
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise VerificationError(f"{source}: not a JSON result file ({exc})") from None
    if not isinstance(parsed, dict):
        raise VerificationError(f"{source}: not a JSON object")
    return parsed


def read_result(path: Path) -> dict[str, Any]:
    return parse_result(Path(path).read_bytes(), str(path))


def _exact_keys(obj: Any, keys: set[str] | frozenset[str], what: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != set(keys):
        got = sorted(obj) if isinstance(obj, dict) else type(obj).__name__
        raise VerificationError(f"{what}: expected exactly the keys {sorted(keys)}, got {got}")
    return obj


def _check_structure(result: dict[str, Any]) -> tuple[dict, dict, dict]:
    if "signature" not in result:
        raise VerificationError("unsigned: the result has no signature (only results signed by "
                                "the official grading runner are accepted)")
    _exact_keys(result, {"format", "claims", "report", "signature"}, "result")
    if result["format"] != FORMAT:
        raise VerificationError(f"unknown result format {result['format']!r}; expected {FORMAT}")
    sig = _exact_keys(result["signature"], {"algorithm", "key_id", "value"}, "signature")
    claims = _exact_keys(result["claims"], CLAIM_KEYS, "claims")
    if not isinstance(result["report"], dict):
        raise VerificationError("report: not a JSON object")
    return claims, result["report"], sig


def _signature_bytes(value: Any) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 64 or base64.b64encode(raw).decode() != value:
        raise VerificationError("signature: not a canonical base64 Ed25519 signature")
    return raw


def _check_report(claims: dict[str, Any], report: dict[str, Any]) -> None:
    if sha256_hex(canonical(report)) != claims["report_sha256"]:
        raise VerificationError("tampered: the report does not match the signed digest")
    try:
        parsed = Report.from_dict(report)
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationError(f"report: malformed ({exc})") from None
    expected = {
        "assignments": [a.name for a in parsed.assignments],
        "earned": round(parsed.earned, 6),
        "points": round(parsed.points, 6),
        "suite_hash": str(report.get("environment", {}).get("suite_hash", "")),
        "graded_at": str(report.get("created", "")),
    }
    for key, value in expected.items():
        if claims[key] != value:
            raise VerificationError(f"inconsistent: signed {key} {claims[key]!r} but the report "
                                    f"says {value!r}")
    if report.get("official") is not True or (report.get("earned"), report.get("points")) != (
            expected["earned"], expected["points"]):
        raise VerificationError("inconsistent: the report's totals or official flag are wrong")


def _check_expected(claims: dict[str, Any], repository: str | None, commit: str | None,
                    assignment: str | None) -> None:
    if repository is not None and claims["repository"] != repository:
        raise VerificationError(f"wrong repository: signed for {claims['repository']}, "
                                f"expected {repository}")
    if commit is not None and claims["commit"] != commit:
        raise VerificationError(f"wrong commit: signed for {claims['commit']}, expected {commit}")
    if assignment is not None and assignment not in claims["assignments"]:
        raise VerificationError(f"wrong assignment: signed for {claims['assignments']}, "
                                f"expected {assignment}")


def verify(result: dict[str, Any], trusted: dict[str, Ed25519PublicKey], *,
           repository: str | None = None, commit: str | None = None,
           assignment: str | None = None) -> Verified:
    """Check ``result`` (see the module docstring); raise :class:`VerificationError` if not."""
    claims, report, sig = _check_structure(result)
    if sig["algorithm"] != ALGORITHM:
        raise VerificationError(f"signature: unsupported algorithm {sig['algorithm']!r}")
    public = trusted.get(sig["key_id"]) if isinstance(sig["key_id"], str) else None
    if public is None:
        raise VerificationError(f"unknown key: signed by key {sig['key_id']!r}, which is not "
                                f"among the trusted keys ({', '.join(sorted(trusted)) or 'none'})")
    try:
        public.verify(_signature_bytes(sig["value"]), DOMAIN + canonical(claims))
    except InvalidSignature:
        raise VerificationError("tampered: the signature does not match the claims") from None
    _check_report(claims, report)
    _check_expected(claims, repository, commit, assignment)
    return Verified(claims=claims, report=report, key_id=sig["key_id"], signature=sig["value"])
