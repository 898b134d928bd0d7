"""The SQLite gradebook (autograder/gradebook.py, ``llmsoc gradebook add|show|export --csv``)."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_signing import REPO, SHA, make_report  # tests/engine is on sys.path

from autograder import cli
from autograder.results import signing
from autograder.results.gradebook import Gradebook
from autograder.results.signing import VerificationError

BOB, BOB_SHA = "course-org/bob-llmsoc", "c3" * 20


@pytest.fixture(scope="module")
def key() -> Any:
    return signing.generate_key()


@pytest.fixture(scope="module")
def trusted(key: Any) -> dict:
    return signing.load_public_keys(signing.public_key_line(key.public_key()))


def signed(key: Any, earned: float, when: str, repo: str = REPO, sha: str = SHA) -> dict:
    report = make_report(earned=earned)
    report["created"] = when
    return signing.sign(report, repo, sha, key)


def test_add_keeps_every_attempt_and_ignores_duplicates(tmp_path: Path, key: Any,
                                                        trusted: dict) -> None:
    first = signed(key, 1.0, "2026-11-20T10:00:00+00:00")
    second = signed(key, 3.0, "2026-11-21T10:00:00+00:00")
    regrade = signed(key, 0.0, "2026-11-22T10:00:00+00:00")  # same commit, graded again
    with Gradebook(tmp_path / "g.sqlite") as book:
        assert [a.earned for a in book.add(first, trusted)] == [4.5]
        assert book.add(first, trusted) == []  # the same signed result twice: one attempt
        book.add(second, trusted)
        book.add(regrade, trusted)
        attempts = book.attempts(REPO)
    assert [(a.earned, a.points, a.graded_at[:10]) for a in attempts] == [
        (4.5, 6.5, "2026-11-20"), (6.5, 6.5, "2026-11-21"), (3.5, 6.5, "2026-11-22")]
    with Gradebook(tmp_path / "g.sqlite") as book:  # persisted, with the whole signed result
        assert len(book.attempts()) == 3
        stored = [json.loads(r) for (r,) in book.db.execute("SELECT result_json FROM results")]
    for r in stored:
        signing.verify(r, trusted)


@pytest.mark.parametrize("forge", ["unsigned", "tampered", "unknown key"])
def test_refuses_unsigned_tampered_and_foreign_results(tmp_path: Path, key: Any, trusted: dict,
                                                       forge: str) -> None:
    good = signed(key, 1.0, "2026-11-20T10:00:00+00:00")
    if forge == "unsigned":
        bad = good["report"]
    elif forge == "tampered":
        bad = json.loads(json.dumps(good))
        bad["report"]["assignments"][0]["tests"][1]["earned"] = 3.0
    else:
        bad = signed(signing.generate_key(), 3.0, "2026-11-20T10:00:00+00:00")
    with Gradebook(tmp_path / "g.sqlite") as book:
        with pytest.raises(VerificationError):
            book.add(bad, trusted)
        assert book.attempts() == []
        assert book.db.execute("SELECT COUNT(*) FROM results").fetchone() == (0,)


def test_grades_latest_best_and_deadline(tmp_path: Path, key: Any, trusted: dict) -> None:
    with Gradebook(tmp_path / "g.sqlite") as book:
        for earned, day in [(1.0, 20), (3.0, 21), (0.0, 23)]:
            book.add(signed(key, earned, f"2026-11-{day}T10:00:00+00:00"), trusted)
        book.add(signed(key, 2.0, "2026-11-21T09:00:00+00:00", BOB, BOB_SHA), trusted)

        def grades(**kw: Any) -> dict:
            return {(a.repository, a.assignment): (a.earned, n) for a, n in book.grades(**kw)}

        assert grades() == {(REPO, "w2_pytorch_basics"): (3.5, 3),
                            (BOB, "w2_pytorch_basics"): (5.5, 1)}
        assert grades(policy="best")[(REPO, "w2_pytorch_basics")] == (6.5, 3)
        assert grades(before="2026-11-22T00:00:00+00:00")[(REPO, "w2_pytorch_basics")] == (6.5, 2)
        assert grades(before="2026-11-20T23:59:59Z")[(REPO, "w2_pytorch_basics")] == (4.5, 1)
        with pytest.raises(ValueError, match="policy"):
            book.grades(policy="average")
        rows = list(csv.DictReader(io.StringIO(book.export_csv())))
    assert [(r["repository"], r["earned"], r["points"], r["percent"], r["attempts"])
            for r in sorted(rows, key=lambda r: r["repository"])] == [
        (REPO, "3.5", "6.5", "53.85", "3"), (BOB, "5.5", "6.5", "84.62", "1")]
    assert rows[0]["commit"] in (SHA, BOB_SHA) and rows[0]["graded_at"].startswith("2026-11-")


def test_a_writer_waits_for_another_jobs_lock(tmp_path: Path, key: Any, trusted: dict) -> None:
    """Two grading jobs finishing together: the second waits for the lock instead of failing."""
    path = tmp_path / "g.sqlite"
    Gradebook(path).close()
    blocker = sqlite3.connect(path, check_same_thread=False)
    blocker.execute("BEGIN IMMEDIATE")  # another writer holds the lock for 0.5 s
    threading.Timer(0.5, blocker.rollback).start()
    start = time.monotonic()
    with Gradebook(path) as book:
        book.add(signed(key, 1.0, "2026-11-20T10:00:00+00:00"), trusted)
        assert len(book.attempts()) == 1
    assert time.monotonic() - start >= 0.4
    blocker.close()


def test_cli_gradebook(tmp_path: Path, key: Any, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:
    pub = tmp_path / "runner.pub"
    pub.write_text(signing.public_key_line(key.public_key()) + "\n")
    monkeypatch.delenv("LLMSOC_PUBLIC_KEYS", raising=False)
    monkeypatch.setenv("LLMSOC_GRADEBOOK", str(tmp_path / "env.sqlite"))
    files = []
    for i, (earned, day) in enumerate([(1.0, 20), (3.0, 21)]):
        f = tmp_path / f"result{i}.json"
        f.write_text(json.dumps(signed(key, earned, f"2026-11-{day}T10:00:00+00:00")))
        files.append(str(f))
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(signed(signing.generate_key(), 3.0, "2026-11-22T10:00:00Z")))
    db = str(tmp_path / "grades.sqlite")

    code = cli.main(["gradebook", "--db", db, "add", *files, "--public-key", str(pub)])
    out = capsys.readouterr().out
    assert code == 0 and out.count("recorded") == 2 and "4.5/6.5" in out
    code = cli.main(["gradebook", "--db", db, "add", str(forged), files[0],
                     "--public-key", str(pub)])
    captured = capsys.readouterr()
    assert code == 1 and "REFUSED" in captured.err and "unknown key" in captured.err
    assert "already in the gradebook" in captured.out
    # unreadable files are refused one by one; the good one after them is still recorded
    (tmp_path / "garbage.json").write_bytes(b"\xff{not json")
    late = tmp_path / "late.json"
    late.write_text(json.dumps(signed(key, 2.0, "2026-11-23T10:00:00+00:00")))
    code = cli.main(["gradebook", "--db", db + "2", "add", str(tmp_path / "garbage.json"),
                     str(tmp_path / "missing.json"), str(late), "--public-key", str(pub)])
    captured = capsys.readouterr()
    assert code == 1 and captured.err.count("REFUSED") == 2
    assert "refused 2 of 3 result(s)" in captured.err and "recorded" in captured.out

    assert cli.main(["gradebook", "--db", db, "show", "--repository", REPO]) == 0
    out = capsys.readouterr().out
    assert "2 attempt(s)" in out and "6.5/6.5" in out and SHA[:12] in out

    out_csv = tmp_path / "grades.csv"
    assert cli.main(["gradebook", "--db", db, "export", "--csv", "--policy", "best",
                     "--out", str(out_csv)]) == 0
    assert out_csv.read_text().splitlines() == [
        "repository,assignment,earned,points,percent,commit,graded_at,attempts",
        f"{REPO},w2_pytorch_basics,6.5,6.5,100.00,{SHA},2026-11-21T10:00:00+00:00,2"]

    assert cli.main(["gradebook", "show"]) == 0  # the $LLMSOC_GRADEBOOK file, created empty
    assert "0 attempt(s)" in capsys.readouterr().out
    assert (tmp_path / "env.sqlite").is_file()
