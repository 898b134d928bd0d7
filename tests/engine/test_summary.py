"""``llmsoc summary``: the job-summary renderer for a report or a signed result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_signing import REPO, SHA, make_report

from autograder import cli
from autograder.grading.report import Report
from autograder.results import formats, signing


@pytest.fixture(autouse=True)
def _no_keys_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LLMSOC_PUBLIC_KEYS", raising=False)


def _summary(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["summary", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_report_summary_is_the_markdown_format(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    report = make_report(official=False)
    path = tmp_path / "preview.json"
    path.write_text(json.dumps(report))
    code, out, _ = _summary(capsys, str(path))
    assert code == 0
    assert out == formats.to_markdown(Report.from_dict(report))
    assert formats.PREVIEW_LINE in out and "| test_grad | value | ❌ failed | 1/3 |" in out


def test_signed_result_summary_names_its_provenance(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    key = signing.generate_key()
    pub = tmp_path / "runner.pub"
    pub.write_text(signing.public_key_line(key.public_key()))
    result = signing.sign(make_report(), REPO, SHA, key)
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))

    code, out, _ = _summary(capsys, str(path), "--public-key", str(pub))
    assert code == 0
    first, _, rest = out.partition("\n\n")
    assert REPO in first and SHA in first and "signature verified" in first
    assert result["signature"]["key_id"] in first
    assert rest == formats.to_markdown(Report.from_dict(result["report"]))
    assert formats.OFFICIAL_LINE in rest and "4.5/6.5" in rest

    code, out, err = _summary(capsys, str(path))  # no trusted key: nothing rendered
    assert code == 2 and out == "" and "no trusted public keys" in err

    result["claims"]["earned"] = 6.5
    path.write_text(json.dumps(result))
    code, out, err = _summary(capsys, str(path), "--public-key", str(pub))
    assert code == 1 and out == "" and "REFUSED" in err
