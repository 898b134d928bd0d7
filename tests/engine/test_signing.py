"""Signed results (autograder/signing.py; ``llmsoc keygen|sign|verify``): round trip, tampering."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from autograder import cli
from autograder.grading.report import AssignmentResult, Report, TestResult
from autograder.results import signing
from autograder.results.signing import VerificationError, verify

REPO, OTHER_REPO = "course-org/alice-llmsoc", "course-org/bob-llmsoc"
SHA, OTHER_SHA = "a1" * 20, "b2" * 20


def _test(name: str, points: float, earned: float, visibility: str = "hidden") -> TestResult:
    return TestResult(name=name, nodeid=f"tests/{visibility}/w2/test_x.py::{name}",
                      category="value", visibility=visibility, points=points, earned=earned,
                      status="passed" if earned == points else "failed",
                      failure_class=None if earned == points else "value",
                      feedback="" if earned == points else "hint: check the axis | <dim>",
                      duration_s=0.125)


def make_report(official: bool = True, earned: float = 1.0) -> dict[str, Any]:
    tests = [_test("test_softmax", 2, 2, "public"), _test("test_grad", 3, earned),
             _test("test_train", 1.5, 1.5)]
    report = Report(assignments=[AssignmentResult(name="w2_pytorch_basics", tests=tests,
                                                  duration_s=1.5, time_budget_s=30.0)],
                    official=official, created="2026-11-29T12:00:00+00:00",
                    environment={"suite_hash": "5e" * 32, "device": "cuda", "python": "3.11"})
    return report.to_dict()


@pytest.fixture(scope="module")
def key() -> Any:
    return signing.generate_key()


@pytest.fixture(scope="module")
def trusted(key: Any) -> dict:
    return signing.load_public_keys(signing.public_key_line(key.public_key()))


@pytest.fixture
def result(key: Any) -> dict[str, Any]:
    return signing.sign(make_report(), REPO, SHA, key)


# --------------------------------------------------------------------------- round trip


def test_sign_verify_round_trip(result: dict, trusted: dict) -> None:
    v = verify(result, trusted, repository=REPO, commit=SHA, assignment="w2_pytorch_basics")
    c = v.claims
    assert (c["repository"], c["commit"], c["assignments"]) == (REPO, SHA, ["w2_pytorch_basics"])
    assert (c["earned"], c["points"]) == (4.5, 6.5)
    assert c["suite_hash"] == "5e" * 32
    assert c["engine_version"] == signing.engine_version()
    assert c["engine_version"].startswith(signing.__version__ + "+")
    assert c["graded_at"] == "2026-11-29T12:00:00+00:00"
    assert set(c) == signing.CLAIM_KEYS


def test_round_trip_survives_a_file(result: dict, trusted: dict, tmp_path: Path) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    assert verify(signing.read_result(path), trusted).claims == result["claims"]


def test_signed_message_is_the_canonical_claims(result: dict, key: Any) -> None:
    """The signature covers exactly DOMAIN + sorted, compact JSON of the claims (so another
    implementation can check it), and the report digest is over its canonical JSON."""
    public = key.public_key()
    raw = signing.base64.b64decode(result["signature"]["value"])
    message = signing.DOMAIN + json.dumps(result["claims"], sort_keys=True,
                                          separators=(",", ":")).encode()
    public.verify(raw, message)  # raises if not
    assert result["claims"]["report_sha256"] == signing.sha256_hex(
        signing.canonical(result["report"]))


def test_signing_is_deterministic_for_the_same_report(key: Any) -> None:
    assert signing.sign(make_report(), REPO, SHA, key) == signing.sign(make_report(), REPO, SHA,
                                                                       key)


def test_only_official_reports_are_signed(key: Any) -> None:
    with pytest.raises(ValueError, match="only an official grade"):
        signing.sign(make_report(official=False), REPO, SHA, key)


@pytest.mark.parametrize("repository, commit", [
    ("alice", SHA), ("course/alice/extra", SHA), ("course/..", SHA), ("-x/y", SHA),
    (REPO, "abc123"), (REPO, SHA.upper()), (REPO, SHA + "0"), (REPO, "main")])
def test_bad_repository_or_commit_is_refused(key: Any, repository: str, commit: str) -> None:
    with pytest.raises(ValueError, match="not a"):
        signing.sign(make_report(), repository, commit, key)


# --------------------------------------------------------------------------- tampering


def test_every_single_byte_flip_is_refused(result: dict, trusted: dict) -> None:
    """Flip the lowest bit of each byte of the file in turn: no variant verifies."""
    data = json.dumps(result, indent=1, ensure_ascii=False).encode()
    accepted = []
    for i in range(len(data)):
        flipped = data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]
        try:
            verify(signing.parse_result(flipped), trusted)
        except VerificationError:
            continue
        accepted.append((i, data[max(0, i - 20):i + 20]))
    assert not accepted, f"byte flips that still verify: {accepted[:5]}"
    assert len(data) > 2000  # the whole report (per-test feedback included) is covered


def _edited(result: dict, edit: Any) -> dict:
    forged = copy.deepcopy(result)
    edit(forged)
    return forged


def _raise_score(r: dict) -> None:
    r["report"]["assignments"][0]["tests"][1].update(earned=3.0, status="passed")
    r["report"]["assignments"][0]["earned"] = 6.5
    r["report"]["earned"] = 6.5


TAMPERINGS = {
    "score in the claims": lambda r: r["claims"].update(earned=6.5),
    "score in the report": _raise_score,
    "score in both": lambda r: (_raise_score(r), r["claims"].update(earned=6.5)),
    "score recomputed with a new digest": lambda r: (
        _raise_score(r), r["claims"].update(earned=6.5, report_sha256=signing.sha256_hex(
            signing.canonical(r["report"])))),
    "points in the claims": lambda r: r["claims"].update(points=4.5),
    "feedback in the report": lambda r: r["report"]["assignments"][0]["tests"][1].update(
        feedback="all good"),
    "report made unofficial": lambda r: r["report"].update(official=False),
    "commit in the claims": lambda r: r["claims"].update(commit=OTHER_SHA),
    "repository in the claims": lambda r: r["claims"].update(repository=OTHER_REPO),
    "assignment in the claims": lambda r: r["claims"].update(assignments=["cp4_transformer"]),
    "suite hash in the claims": lambda r: r["claims"].update(suite_hash="0" * 64),
    "grading time in the claims": lambda r: r["claims"].update(
        graded_at="2026-11-28T12:00:00+00:00"),
    "extra claim": lambda r: r["claims"].update(note="regraded"),
    "extra top-level field": lambda r: r.update(note="x"),
    "signature removed": lambda r: r.pop("signature"),
    "signature truncated": lambda r: r["signature"].update(value=r["signature"]["value"][:-4]),
    "signature of other claims": lambda r: r["signature"].update(
        value=signing.base64.b64encode(bytes(64)).decode()),
    "algorithm changed": lambda r: r["signature"].update(algorithm="rsa"),
    "format changed": lambda r: r.update(format="llmsoc-signed-result/0"),
}


@pytest.mark.parametrize("what", TAMPERINGS)
def test_tampering_is_refused(result: dict, trusted: dict, what: str) -> None:
    with pytest.raises(VerificationError):
        verify(_edited(result, TAMPERINGS[what]), trusted)


def test_an_unsigned_report_is_refused(trusted: dict) -> None:
    with pytest.raises(VerificationError, match="unsigned"):
        verify(make_report(), trusted)


@pytest.mark.parametrize("expect, message", [
    ({"commit": OTHER_SHA}, "wrong commit"),
    ({"repository": OTHER_REPO}, "wrong repository"),
    ({"assignment": "cp4_transformer"}, "wrong assignment")])
def test_replay_on_another_commit_repository_or_assignment(result: dict, trusted: dict,
                                                           expect: dict, message: str) -> None:
    """A genuine result presented for another commit (a good grade reused for a later, worse
    commit), another student's repository or another assignment is refused."""
    with pytest.raises(VerificationError, match=message):
        verify(result, trusted, **expect)


def test_unknown_key_is_refused(trusted: dict) -> None:
    forged = signing.sign(make_report(earned=3.0), REPO, SHA, signing.generate_key())
    with pytest.raises(VerificationError, match="unknown key"):
        verify(forged, trusted)


def test_a_trusted_key_id_on_a_foreign_signature_is_refused(result: dict, trusted: dict) -> None:
    forged = signing.sign(make_report(earned=3.0), REPO, SHA, signing.generate_key())
    forged["signature"]["key_id"] = result["signature"]["key_id"]
    with pytest.raises(VerificationError, match="tampered"):
        verify(forged, trusted)


def test_no_trusted_keys_trusts_nothing(result: dict) -> None:
    with pytest.raises(VerificationError, match="unknown key"):
        verify(result, {})


def test_public_key_lines() -> None:
    a, b = signing.generate_key().public_key(), signing.generate_key().public_key()
    text = (f"# the course's runners\n{signing.public_key_line(a, 'gpu pool')}\n\n"
            f"{signing.public_key_line(b)}\n")
    assert set(signing.load_public_keys(text)) == {signing.key_id(a), signing.key_id(b)}
    with pytest.raises(ValueError, match="line 1"):
        signing.load_public_keys("ssh-rsa AAAA")
    with pytest.raises(ValueError, match="line 1"):
        signing.load_public_keys("ed25519 not-base64!")


# --------------------------------------------------------------------------- CLI


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_keygen_sign_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSOC_PUBLIC_KEYS", raising=False)
    priv, pub = tmp_path / "runner.pem", tmp_path / "runner.pub"
    code, out, _ = _run(capsys, "keygen", "--private", str(priv), "--public", str(pub))
    assert code == 0 and "keep it secret" in out
    assert priv.stat().st_mode & 0o777 == 0o600
    assert _run(capsys, "keygen", "--private", str(priv), "--public", str(pub))[0] == 2

    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report()))
    signed = tmp_path / "result.json"
    monkeypatch.setenv("LLMSOC_SIGNING_KEY", priv.read_text())  # how the workflow passes it
    code, _, err = _run(capsys, "sign", str(report), "--repository", REPO, "--commit", SHA,
                        "--out", str(signed))
    assert code == 0 and "4.5/6.5" in err

    code, out, _ = _run(capsys, "verify", str(signed), "--public-key", str(pub), "--commit", SHA,
                        "--repository", REPO, "--assignment", "w2_pytorch_basics")
    assert code == 0 and out.startswith("OK ") and "4.5/6.5" in out
    code, _, err = _run(capsys, "verify", str(signed), "--public-key", str(pub),
                        "--commit", OTHER_SHA)
    assert code == 1 and "REFUSED" in err and "wrong commit" in err

    monkeypatch.setenv("LLMSOC_PUBLIC_KEYS", pub.read_text())
    assert _run(capsys, "verify", str(signed))[0] == 0
    tampered = json.loads(signed.read_text())
    tampered["claims"]["earned"] = 6.5
    signed.write_text(json.dumps(tampered))
    code, _, err = _run(capsys, "verify", str(signed))
    assert code == 1 and "tampered" in err


def test_cli_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSOC_SIGNING_KEY", raising=False)
    monkeypatch.delenv("LLMSOC_PUBLIC_KEYS", raising=False)
    report = tmp_path / "report.json"
    report.write_text(json.dumps(make_report()))
    code, _, err = _run(capsys, "sign", str(report), "--repository", REPO, "--commit", SHA)
    assert code == 2 and "no signing key" in err
    code, _, err = _run(capsys, "verify", str(report))
    assert code == 2 and "no trusted public keys" in err
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    code, _, err = _run(capsys, "sign", str(report), "--repository", REPO, "--commit", SHA,
                        "--key", str(bad))
    assert code == 2 and "PEM" in err
