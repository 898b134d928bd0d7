"""``llmsoc post-status`` and ``llmsoc request-grading`` against a fake GitHub API on 127.0.0.1.

Real HTTP through :mod:`urllib`: the fake server records every request (method, path, headers,
JSON body) and answers from a script of ``(status, body)`` pairs, so the tests assert URLs,
bodies and auth headers, retries on 5xx, and the errors on 401/404.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from test_signing import REPO, SHA, make_report

from autograder import cli
from autograder.results import github_api, signing

STATUS_URL = f"/repos/{REPO}/statuses/{SHA}"
GRADING_REPO = "course-org/llmsoc-grading"
DISPATCH_URL = f"/repos/{GRADING_REPO}/actions/workflows/grade-submission.yml/dispatches"


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    url: str
    answers: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)


@pytest.fixture
def gh(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGitHub]:
    state = FakeGitHub(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            state.requests.append(Request("POST", self.path, dict(self.headers.items()),
                                          json.loads(raw) if raw else None))
            status, body = state.answers.pop(0) if state.answers else (201, {"id": 1})
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setattr(github_api, "BACKOFF_S", 0.01)
    for var in ("GITHUB_TOKEN", "LLMSOC_STATUS_TOKEN", "LLMSOC_DISPATCH_TOKEN", "GITHUB_API_URL"):
        monkeypatch.delenv(var, raising=False)
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def result_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A signed result whose key is trusted (``LLMSOC_PUBLIC_KEYS``)."""
    key = signing.generate_key()
    monkeypatch.setenv("LLMSOC_PUBLIC_KEYS", signing.public_key_line(key.public_key()))
    path = tmp_path / "result.json"
    path.write_text(json.dumps(signing.sign(make_report(), REPO, SHA, key)))
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _assert_github_headers(req: Request, token: str) -> None:
    h = {k.lower(): v for k, v in req.headers.items()}
    assert h["authorization"] == f"Bearer {token}"
    assert h["accept"] == "application/vnd.github+json"
    assert h["x-github-api-version"] == "2022-11-28"
    assert h["content-type"] == "application/json"
    assert h["user-agent"].startswith("llmsoc/")


# --------------------------------------------------------------------------- post-status


def test_post_status_of_a_signed_result(gh: FakeGitHub, result_file: Path,
                                        capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "status-token")
    monkeypatch.setenv("GITHUB_TOKEN", "not-this-one")
    code, out, _ = _run(capsys, "post-status", str(result_file), "--api-url", gh.url,
                        "--target-url", "https://github.com/course-org/llmsoc-grading/actions/1")
    assert code == 0 and "grade 4.5/6.5 (69.2%)" in out
    [req] = gh.requests
    assert (req.method, req.path) == ("POST", STATUS_URL)
    assert req.body == {"state": "failure", "description": "grade 4.5/6.5 (69.2%)",
                        "context": "llmsoc/official-grade",
                        "target_url": "https://github.com/course-org/llmsoc-grading/actions/1"}
    _assert_github_headers(req, "status-token")


@pytest.mark.parametrize("tamper", ["score", "untrusted-key"])
def test_post_status_posts_only_a_verified_result(gh: FakeGitHub, result_file: Path, tamper: str,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "status-token")
    if tamper == "score":
        result = json.loads(result_file.read_text())
        result["claims"]["earned"] = result["claims"]["points"]
        result_file.write_text(json.dumps(result))
    else:
        other = signing.generate_key().public_key()
        monkeypatch.setenv("LLMSOC_PUBLIC_KEYS", signing.public_key_line(other))
    code, out, err = _run(capsys, "post-status", str(result_file), "--comment", "--api-url",
                          gh.url)
    assert code == 1 and "REFUSED" in err and out == ""
    assert gh.requests == []


def test_full_marks_is_success() -> None:
    claims = {"earned": 60.0, "points": 60.0}
    assert github_api.status_for(claims) == ("success", "grade 60/60 (100.0%)")
    assert github_api.status_for({"earned": 0.0, "points": 0.0})[0] == "failure"


def test_pending_and_error_statuses(gh: FakeGitHub, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_API_URL", gh.url)  # as on a runner (GitHub Enterprise too)
    monkeypatch.setenv("GITHUB_TOKEN", "tok")
    assert _run(capsys, "post-status", "--repository", REPO, "--sha", SHA,
                "--state", "pending")[0] == 0
    assert _run(capsys, "post-status", "--repository", REPO, "--sha", SHA, "--state", "error",
                "--description", "x" * 300, "--context", "llmsoc/w2")[0] == 0
    pending, error = (r.body for r in gh.requests)
    assert pending == {"state": "pending", "description": "queued for official grading",
                       "context": "llmsoc/official-grade"}
    assert error["state"] == "error" and error["context"] == "llmsoc/w2"
    assert error["description"] == "x" * github_api.DESCRIPTION_MAX
    assert all(r.path == STATUS_URL for r in gh.requests)


def test_retries_on_server_errors(gh: FakeGitHub, result_file: Path,
                                  capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "tok")
    gh.answers = [(502, {"message": "Bad Gateway"}), (503, None), (500, {}), (201, {"id": 7})]
    code, out, _ = _run(capsys, "post-status", str(result_file), "--api-url", gh.url)
    assert code == 0 and "grade 4.5/6.5" in out
    assert len(gh.requests) == 4
    assert all(r.body == gh.requests[0].body and r.path == STATUS_URL for r in gh.requests)


def test_gives_up_after_repeated_server_errors(gh: FakeGitHub, result_file: Path,
                                               capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "tok")
    gh.answers = [(500, {"message": "boom"})] * 10
    code, _, err = _run(capsys, "post-status", str(result_file), "--api-url", gh.url)
    assert code == 1 and "gave up after 5 attempts" in err and "boom" in err
    assert len(gh.requests) == 5


def test_backoff_doubles(gh: FakeGitHub) -> None:
    waits: list[float] = []
    gh.answers = [(503, None)] * 3
    client = github_api.GitHub("tok", gh.url, retries=3, backoff_s=1.5, sleep=waits.append)
    client.create_status(REPO, SHA, "pending", "queued", "llmsoc/official-grade")
    assert waits == [1.5, 3.0, 6.0] and len(gh.requests) == 4


@pytest.mark.parametrize("status, expected", [
    (401, "token is missing, expired or revoked"),
    (403, "lacks the permission"),
    (404, "not found"),
    (422, "invalid")])
def test_client_errors_are_clear_and_not_retried(gh: FakeGitHub, result_file: Path,
                                                 capsys: pytest.CaptureFixture[str],
                                                 monkeypatch: pytest.MonkeyPatch, status: int,
                                                 expected: str) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "tok")
    gh.answers = [(status, {"message": "GitHub's own words"})]
    code, _, err = _run(capsys, "post-status", str(result_file), "--api-url", gh.url)
    assert code == 1 and len(gh.requests) == 1
    assert f"HTTP {status}" in err and expected in err and "GitHub's own words" in err
    assert STATUS_URL in err


def test_unreachable_api_is_retried_then_reported(result_file: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setattr(github_api, "BACKOFF_S", 0.01)
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "tok")
    code, _, err = _run(capsys, "post-status", str(result_file), "--api-url",
                        f"http://127.0.0.1:{port}")
    assert code == 1 and "gave up after 5 attempts" in err and "connection failed" in err


def test_post_status_usage_errors(gh: FakeGitHub, result_file: Path,
                                  capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run(capsys, "post-status", str(result_file), "--api-url", gh.url)
    assert code == 2 and "no GitHub token" in err
    monkeypatch.setenv("GITHUB_TOKEN", "tok")
    assert _run(capsys, "post-status", "--repository", REPO, "--api-url", gh.url)[0] == 2
    assert _run(capsys, "post-status", "--repository", "../../x", "--sha", SHA,
                "--state", "pending", "--api-url", gh.url)[0] == 2
    report = result_file.with_name("report.json")
    report.write_text(json.dumps(make_report()))
    code, _, err = _run(capsys, "post-status", str(report), "--api-url", gh.url)
    assert code == 2 and "not a signed result" in err
    assert gh.requests == []


# --------------------------------------------------------------------------- request-grading


def test_request_grading_sends_only_repository_and_sha(gh: FakeGitHub,
                                                       capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_DISPATCH_TOKEN", "dispatch-token")
    gh.answers = [(204, None)]
    code, out, _ = _run(capsys, "request-grading", "--grading-repo", GRADING_REPO,
                        "--repository", REPO, "--sha", SHA, "--api-url", gh.url)
    assert code == 0 and "requested official grading" in out
    [req] = gh.requests
    assert (req.method, req.path) == ("POST", DISPATCH_URL)
    assert req.body == {"ref": "main", "inputs": {"repository": REPO, "sha": SHA}}
    _assert_github_headers(req, "dispatch-token")


def test_request_grading_check_validates_untrusted_input(capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    ok = ["request-grading", "--check", "--repository", REPO, "--sha", SHA]
    assert _run(capsys, *ok)[0] == 0
    assert _run(capsys, *ok, "--owner", "course-org")[0] == 0
    code, _, err = _run(capsys, *ok, "--owner", "someone-else")
    assert code == 2 and "not owned by" in err
    for repo, sha in [(REPO, "$(curl evil)"), ("a/b; rm -rf /", SHA), (REPO, SHA[:12])]:
        argv = ["request-grading", "--check", "--repository", repo, "--sha", sha]
        assert _run(capsys, *argv)[0] == 2


def test_request_grading_errors(gh: FakeGitHub, capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_DISPATCH_TOKEN", "tok")
    gh.answers = [(404, {"message": "Not Found"})]
    code, _, err = _run(capsys, "request-grading", "--grading-repo", GRADING_REPO,
                        "--repository", REPO, "--sha", SHA, "--api-url", gh.url)
    assert code == 1 and "HTTP 404" in err and DISPATCH_URL in err
    code, _, err = _run(capsys, "request-grading", "--repository", REPO, "--sha", SHA,
                        "--api-url", gh.url)
    assert code == 2 and "repository name" in err


def test_feedback_as_a_commit_comment(gh: FakeGitHub, result_file: Path,
                                      capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLMSOC_STATUS_TOKEN", "tok")
    assert _run(capsys, "post-status", str(result_file), "--comment", "--api-url", gh.url)[0] == 0
    status, comment = gh.requests
    assert status.path == STATUS_URL
    assert comment.path == f"/repos/{REPO}/commits/{SHA}/comments"
    assert set(comment.body) == {"body"}
    body = comment.body["body"]
    assert "## LLM-SOC grade: 4.5/6.5" in body and "test_grad" in body and "hint: check" in body
    _assert_github_headers(comment, "tok")
    assert _run(capsys, "post-status", "--repository", REPO, "--sha", SHA, "--state", "pending",
                "--comment", "--api-url", gh.url)[0] == 2


def test_overlong_comment_is_cut(gh: FakeGitHub) -> None:
    github_api.GitHub("tok", gh.url).create_commit_comment(REPO, SHA, "x" * 100_000)
    body = gh.requests[0].body["body"]
    assert len(body) <= github_api.COMMENT_MAX and body.endswith("limit)\n")
