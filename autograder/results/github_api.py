"""The GitHub REST calls the grading flow makes, with the standard library only.

* :meth:`GitHub.create_status` - ``POST /repos/{repo}/statuses/{sha}``: the official grade as a
  commit status on the student's commit (token permission: "Commit statuses: write" on the
  student repositories).
* :meth:`GitHub.create_commit_comment` - ``POST /repos/{repo}/commits/{sha}/comments``: the
  per-test feedback where the student can read it (optional; "Contents: write").
* :meth:`GitHub.dispatch_workflow` - ``POST /repos/{repo}/actions/workflows/{file}/dispatches``:
  the student's request for official grading, carrying only repository and commit SHA (token
  permission: "Actions: write" on the grading repository, nothing else).

Server errors (5xx), rate limiting (429) and dropped connections are retried with exponential
back-off; 401, 403, 404 and 422 are not retried and raise :class:`GitHubError` with a message
that says what to fix.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from autograder import __version__

DEFAULT_API = "https://api.github.com"
BACKOFF_S = 1.0  # first retry after 1 s, then 2, 4, 8
DESCRIPTION_MAX = 140  # GitHub truncates nothing: it refuses longer descriptions
COMMENT_MAX = 65536
STATES = ("pending", "success", "failure", "error")
REPOSITORY_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}$")
COMMIT_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

_ADVICE = {
    401: "the token is missing, expired or revoked: renew it and update the secret",
    403: "the token lacks the permission this call needs (or a rate limit was hit)",
    404: "not found: the repository, commit or workflow does not exist, or the token cannot "
         "see it (GitHub answers 404 rather than 403 for private repositories out of reach)",
    422: "GitHub refused the request as invalid (an unknown commit SHA or workflow input?)",
}


class GitHubError(Exception):
    """A GitHub API call failed for good."""

    def __init__(self, status: int | None, message: str):
        super().__init__(message)
        self.status = status


class GitHub:
    """A minimal GitHub REST client (``api_url`` may point at GitHub Enterprise Server)."""

    def __init__(self, token: str, api_url: str = DEFAULT_API, *, retries: int = 4,
                 backoff_s: float | None = None, timeout_s: float = 30.0,
                 sleep: Callable[[float], None] | None = None):
        if not token:
            raise ValueError("no GitHub token given")
        self.token, self.api_url = token, api_url.rstrip("/")
        self.retries, self.timeout_s = retries, timeout_s
        self.backoff_s = BACKOFF_S if backoff_s is None else backoff_s
        self.sleep = sleep or time.sleep

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send one request (retrying transient failures); the decoded JSON answer or None."""
        url = f"{self.api_url}{path}"
        data = None if body is None else json.dumps(body).encode()
        for attempt in range(self.retries + 1):
            req = urllib.request.Request(url, data=data, method=method, headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "X-GitHub-Api-Version": "2022-11-28",
                "User-Agent": f"llmsoc/{__version__}",
                **({"Content-Type": "application/json"} if data is not None else {}),
            })
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    text = resp.read().decode() or "null"
                    return json.loads(text)
            except urllib.error.HTTPError as exc:
                status, detail = exc.code, _detail(exc)
                if status < 500 and status != 429:
                    advice = _ADVICE.get(status, "the request was refused")
                    raise GitHubError(status, f"{method} {url}: HTTP {status}: {advice}"
                                      f"{f' (GitHub says: {detail})' if detail else ''}") from None
                last = f"HTTP {status}{f' ({detail})' if detail else ''}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                status, last = None, f"connection failed ({getattr(exc, 'reason', exc)})"
            if attempt < self.retries:
                self.sleep(self.backoff_s * 2 ** attempt)
        raise GitHubError(status, f"{method} {url}: gave up after {self.retries + 1} attempts: "
                          f"{last}")

    def create_status(self, repository: str, sha: str, state: str, description: str,
                      context: str, target_url: str | None = None) -> Any:
        """Set the commit status ``context`` on ``repository@sha``."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; valid: {', '.join(STATES)}")
        body = {"state": state, "description": description[:DESCRIPTION_MAX], "context": context}
        if target_url:
            body["target_url"] = target_url
        path = f"/repos/{check_repository(repository)}/statuses/{check_commit(sha)}"
        return self.request("POST", path, body)

    def create_commit_comment(self, repository: str, sha: str, body: str) -> Any:
        """Comment on ``repository@sha`` (Markdown; cut to GitHub's maximum length)."""
        if len(body) > COMMENT_MAX:
            body = body[:COMMENT_MAX - 40] + "\n\n(feedback cut at GitHub's limit)\n"
        path = f"/repos/{check_repository(repository)}/commits/{check_commit(sha)}/comments"
        return self.request("POST", path, {"body": body})

    def dispatch_workflow(self, repository: str, workflow: str, ref: str,
                          inputs: dict[str, str]) -> Any:
        """Start ``workflow`` (a file name under .github/workflows) of ``repository`` at ``ref``."""
        path = (f"/repos/{check_repository(repository)}/actions/workflows/"
                f"{urllib.request.quote(workflow, safe='')}/dispatches")
        return self.request("POST", path, {"ref": ref, "inputs": inputs})


def _detail(exc: urllib.error.HTTPError) -> str:
    """GitHub's own ``message`` from an error answer, if any."""
    try:
        return str(json.loads(exc.read().decode() or "{}").get("message", ""))[:300]
    except (ValueError, AttributeError, OSError):
        return ""


def check_repository(repository: str) -> str:
    """``repository`` if it is a plausible ``owner/name``, else ValueError."""
    if not REPOSITORY_RE.match(repository or "") or repository.split("/")[1] in (".", ".."):
        raise ValueError(f"not a GitHub repository name (owner/name): {repository!r}")
    return repository


def check_commit(commit: str) -> str:
    """``commit`` if it is a full lowercase SHA-1 or SHA-256 hex digest, else ValueError."""
    if not COMMIT_RE.match(commit or ""):
        raise ValueError(f"not a full commit SHA (40 or 64 lowercase hex digits): {commit!r}")
    return commit


def status_for(claims: dict[str, Any]) -> tuple[str, str]:
    """``(state, description)`` of a signed result: ``success`` only at full marks."""
    earned, points = claims["earned"], claims["points"]
    percent = f" ({100 * earned / points:.1f}%)" if points else ""
    state = "success" if points and earned >= points else "failure"
    return state, f"grade {earned:g}/{points:g}{percent}"


def check_request(repository: str, sha: str, owner: str | None = None) -> tuple[str, str]:
    """Validate a grading request (untrusted input): names, SHA, and optionally the owner."""
    check_repository(repository)
    check_commit(sha)
    if owner and repository.split("/")[0].lower() != owner.lower():
        raise ValueError(f"repository {repository!r} is not owned by {owner!r}: refused")
    return repository, sha
