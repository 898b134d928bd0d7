"""The gradebook: every verified attempt, in one SQLite file, and the grades derived from them.

Only results that pass :func:`signing.verify` get in; the whole signed result is kept
beside the row so it can be checked again later. Nothing is ever overwritten: each official
grading of a commit is one attempt per assignment, and adding the same signed result twice is a
no-op. A grade is derived from the attempts by a policy:

    latest   the attempt graded last (optionally only attempts graded before a deadline)
    best     the attempt with the most points (same deadline rule)

``graded_at`` is the grading runner's clock, signed; a commit's own date (which the student
controls) is never used.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from autograder.results.signing import verify

SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    signature   TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    result_json TEXT NOT NULL,
    added_at    TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS attempts (
    id             INTEGER PRIMARY KEY,
    signature      TEXT NOT NULL REFERENCES results(signature),
    repository     TEXT NOT NULL,
    commit_sha     TEXT NOT NULL,
    assignment     TEXT NOT NULL,
    earned         REAL NOT NULL,
    points         REAL NOT NULL,
    graded_at      TEXT NOT NULL,
    suite_hash     TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    UNIQUE (signature, assignment)
);
CREATE INDEX IF NOT EXISTS attempts_by_student ON attempts (repository, assignment, graded_at);
"""

POLICIES = ("latest", "best")
CSV_COLUMNS = ("repository", "assignment", "earned", "points", "percent", "commit", "graded_at",
               "attempts")


@dataclass(frozen=True)
class Attempt:
    """One official grading of one assignment at one commit."""

    id: int
    repository: str
    commit: str
    assignment: str
    earned: float
    points: float
    graded_at: str


def _parse_time(text: str) -> dt.datetime:
    when = dt.datetime.fromisoformat(text)
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


class Gradebook:
    """An open gradebook file (created on first use)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Several grading jobs may finish at once: wait for the write lock rather than fail.
        self.db = sqlite3.connect(self.path, timeout=60)
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Gradebook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, result: dict[str, Any], trusted: dict[str, Ed25519PublicKey]) -> list[Attempt]:
        """Verify ``result`` and record one attempt per assignment; return the new attempts
        (empty when this very result was recorded before). Raises VerificationError."""
        v = verify(result, trusted)
        c = v.claims
        scores = {a["name"]: (float(a["earned"]), float(a["points"]))
                  for a in v.report["assignments"]}
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        with self.db:
            cur = self.db.execute(
                "INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?)",
                (v.signature, v.key_id, json.dumps(result, sort_keys=True), now))
            if cur.rowcount == 0:
                return []
            for name in c["assignments"]:
                earned, points = scores[name]
                self.db.execute(
                    "INSERT INTO attempts (signature, repository, commit_sha, assignment, earned,"
                    " points, graded_at, suite_hash, engine_version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (v.signature, c["repository"], c["commit"], name, earned, points,
                     c["graded_at"], c["suite_hash"], c["engine_version"]))
        return self._select("signature = ?", (v.signature,))

    def attempts(self, repository: str | None = None,
                 assignment: str | None = None) -> list[Attempt]:
        """Every attempt, oldest first, optionally for one repository and/or assignment."""
        return self._select("(?1 IS NULL OR repository = ?1) AND (?2 IS NULL OR assignment = ?2)",
                            (repository, assignment))

    def _select(self, where: str, params: tuple[Any, ...]) -> list[Attempt]:
        rows = self.db.execute(
            "SELECT id, repository, commit_sha, assignment, earned, points, graded_at"
            f" FROM attempts WHERE {where} ORDER BY repository, assignment, graded_at, id",
            params).fetchall()
        return [Attempt(*row) for row in rows]

    def grades(self, policy: str = "latest",
               before: str | None = None) -> list[tuple[Attempt, int]]:
        """One ``(chosen attempt, number of attempts counted)`` per repository and assignment."""
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; valid: {', '.join(POLICIES)}")
        deadline = _parse_time(before) if before else None
        groups: dict[tuple[str, str], list[Attempt]] = {}
        for a in self.attempts():
            if deadline is None or _parse_time(a.graded_at) <= deadline:
                groups.setdefault((a.repository, a.assignment), []).append(a)
        chosen = []
        for attempts in groups.values():
            if policy == "latest":
                pick = max(attempts, key=lambda a: (_parse_time(a.graded_at), a.id))
            else:
                pick = max(attempts, key=lambda a: (a.earned, _parse_time(a.graded_at), a.id))
            chosen.append((pick, len(attempts)))
        return chosen

    def export_csv(self, policy: str = "latest", before: str | None = None) -> str:
        """The grades as CSV for an LMS import (one row per repository and assignment)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for a, count in self.grades(policy, before):
            percent = f"{100 * a.earned / a.points:.2f}" if a.points else ""
            writer.writerow([a.repository, a.assignment, f"{a.earned:g}", f"{a.points:g}",
                             percent, a.commit, a.graded_at, count])
        return out.getvalue()
