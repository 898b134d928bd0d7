"""``llmsoc``: self-check, official grading, release and validation of the course, and the
steps of the official grading workflow (sign, verify, gradebook, summary, post-status,
request-grading).

Exit codes (every command):
    0  success (``check``: all public tests passed; ``grade``: a report was produced,
       whatever the score; ``release --check``: up to date; ``validate``: valid;
       ``verify``: the result is authentic)
    1  the thing checked is not right (failing self-check, stale release, invalid course,
       a result that is unsigned, tampered with or not the one expected, a GitHub call that
       failed for good)
    2  usage error (unknown assignment, bad path, bad option)
    3  internal error of the grader (please report it)
    4  ``grade``: no official grade is possible here (a sandbox layer or the course secret is
       missing; the message says which and how to fix it)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder.grading import feedback
from autograder.grading.config import Course
from autograder.grading.report import Report
from autograder.results import formats

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL, EXIT_NOT_OFFICIAL = 0, 1, 2, 3, 4


def _emit(report: Report, fmt: str, out: str | None) -> None:
    color = out is None and fmt == "terminal" and sys.stdout.isatty()
    text = feedback.valid_unicode(formats.render(report, fmt, color=color))
    if out is None:
        try:
            print(text)
        except BrokenPipeError:  # e.g. piped into `head`
            sys.stderr.close()
    else:
        Path(out).write_text(text)
        print(f"wrote {fmt} report to {out}", file=sys.stderr)


def _names(course: Course, names: Sequence[str], all_: bool) -> list[str]:
    if all_ or not names:
        found = course.assignments()
        if not found:
            raise ValueError(f"no assignments found under {course.root / 'tests' / 'public'}")
        return found
    return list(names)


def cmd_check(args: argparse.Namespace) -> int:
    from autograder.grading.runner import run

    course = Course.find()
    report = run(course, _names(course, args.assignments, args.all), public_only=True,
                 debug=args.debug, keyword=args.k)
    _emit(report, args.format, args.out)
    return EXIT_OK if report.earned >= report.points else EXIT_FAILED


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.grading.runner import OfficialGradingUnavailable, run

    course = Course.find(Path(args.course) if args.course else None)
    submission = Path(args.submission).resolve()
    if not submission.exists():
        raise ValueError(f"submission path {submission} does not exist")
    names = _names(course, args.assignments, args.all)
    if args.present:  # the official workflow: whatever the course has that the student has
        names = [n for n in names if (submission / "assignments" / n / "__init__.py").is_file()]
        if not names:
            raise ValueError(f"{submission} holds none of the course's assignments "
                             f"(looked for assignments/<name>/__init__.py)")
    try:
        report = run(course, names, submission=submission, official=not args.unofficial)
    except OfficialGradingUnavailable as exc:
        print(f"llmsoc grade: {exc}", file=sys.stderr)
        return EXIT_NOT_OFFICIAL
    _emit(report, args.format, args.out)
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.grading.snapshots import record_snapshots
    from autograder.release import release

    course = Course.find()
    names = list(args.assignments) or None
    messages = release(course, names, check=args.check,
                       student_repo=Path(args.student_repo) if args.student_repo else None,
                       record_snapshots=None if args.check or args.no_snapshots
                       else record_snapshots)
    for m in messages:
        print(m)
    if args.check and messages:
        print("assignments/ is stale: run `llmsoc release`", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from autograder.grading.validate import validate

    course = Course.find()
    ok = True
    for name in _names(course, args.assignments, False):
        print(f"validating {name} ({args.seeds} seeds)", file=sys.stderr)
        v = validate(course, name, seeds=args.seeds)
        print(f"== {name}")
        for line in v.lines:
            print(f"   {line}")
        for p in v.problems:
            print(f"   PROBLEM: {p}")
        print(f"   {'VALID' if not v.problems else 'INVALID'}")
        ok = ok and not v.problems
    return EXIT_OK if ok else EXIT_FAILED


# --------------------------------------------------------------------------- signed results


def _read_json(path: str) -> dict:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: not a JSON object")
    return feedback.valid_unicode(data)  # a lone surrogate would break every output


def _trusted_keys(files: Sequence[str]) -> dict:
    """Public keys from ``--public-key`` files and the ``LLMSOC_PUBLIC_KEYS`` variable."""
    from autograder.results.signing import load_public_keys

    text = "\n".join([Path(f).read_text() for f in files]
                     + [os.environ.get("LLMSOC_PUBLIC_KEYS", "")])
    keys = load_public_keys(text)
    if not keys:
        raise ValueError("no trusted public keys: pass --public-key FILE or set "
                         "LLMSOC_PUBLIC_KEYS (lines 'ed25519 <base64> [comment]')")
    return keys


def cmd_keygen(args: argparse.Namespace) -> int:
    from autograder.results.signing import generate_key, key_id, private_key_pem, public_key_line

    private, public = Path(args.private), Path(args.public)
    if private.exists():
        raise ValueError(f"{private} exists: refusing to overwrite a signing key")
    key = generate_key()
    private.touch(mode=0o600)
    private.write_text(private_key_pem(key), encoding="ascii")
    public.write_text(public_key_line(key.public_key(), args.comment) + "\n")
    print(f"key {key_id(key.public_key())}: private key in {private} (keep it secret), "
          f"public key in {public}")
    return EXIT_OK


def cmd_sign(args: argparse.Namespace) -> int:
    from autograder.results.signing import load_private_key, sign

    if args.key:
        pem = Path(args.key).read_text()
    elif os.environ.get("LLMSOC_SIGNING_KEY"):
        pem = os.environ["LLMSOC_SIGNING_KEY"]
    else:
        raise ValueError("no signing key: pass --key FILE or set LLMSOC_SIGNING_KEY")
    result = sign(_read_json(args.report), args.repository, args.commit, load_private_key(pem))
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        c = result["claims"]
        print(f"signed {c['repository']}@{c['commit'][:12]}: {c['earned']:g}/{c['points']:g} "
              f"with key {result['signature']['key_id']} -> {args.out}", file=sys.stderr)
    else:
        print(text, end="")
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    from autograder.results.signing import VerificationError, read_result, verify

    trusted = _trusted_keys(args.public_key)
    try:
        v = verify(read_result(Path(args.result)), trusted, repository=args.repository,
                   commit=args.commit, assignment=args.assignment)
    except VerificationError as exc:
        print(f"REFUSED {args.result}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    c = v.claims
    print(f"OK {args.result}: {c['repository']}@{c['commit']} {', '.join(c['assignments'])} "
          f"{c['earned']:g}/{c['points']:g} graded {c['graded_at']} by key {v.key_id} "
          f"(engine {c['engine_version']}, suite {c['suite_hash'][:12]})")
    return EXIT_OK


def _gradebook_path(args: argparse.Namespace) -> Path:
    return Path(args.db or os.environ.get("LLMSOC_GRADEBOOK") or "gradebook.sqlite")


def cmd_gradebook(args: argparse.Namespace) -> int:
    from autograder.results.gradebook import Gradebook
    from autograder.results.signing import VerificationError, read_result

    with Gradebook(_gradebook_path(args)) as book:
        if args.action == "add":
            trusted, refused = _trusted_keys(args.public_key), 0
            for path in args.results:
                try:
                    new = book.add(read_result(Path(path)), trusted)
                except (VerificationError, ValueError, OSError) as exc:
                    print(f"REFUSED {path}: {exc}", file=sys.stderr)
                    refused += 1
                    continue
                print(f"recorded {path}: " + ("; ".join(
                    f"{a.repository}@{a.commit[:12]} {a.assignment} {a.earned:g}/{a.points:g}"
                    for a in new) if new else "already in the gradebook"))
            if refused:
                print(f"refused {refused} of {len(args.results)} result(s)", file=sys.stderr)
            return EXIT_FAILED if refused else EXIT_OK
        if args.action == "show":
            rows = book.attempts(args.repository, args.assignment)
            print(f"{'repository':<32} {'assignment':<22} {'commit':<12} {'points':>11}  "
                  "graded at")
            for a in rows:
                print(f"{a.repository:<32} {a.assignment:<22} {a.commit[:12]:<12} "
                      f"{f'{a.earned:g}/{a.points:g}':>11}  {a.graded_at}")
            print(f"{len(rows)} attempt(s)")
            return EXIT_OK
        text = book.export_csv(args.policy, args.before)
    if args.out:
        Path(args.out).write_text(text)
    else:
        print(text, end="")
    return EXIT_OK


def _is_signed(data: dict) -> bool:
    return {"claims", "report", "signature"} <= set(data)


def _summary_markdown(data: dict, trusted: dict | None) -> str:
    """Job-summary Markdown of a report, or of a signed result verified against ``trusted``
    first (VerificationError if that fails). Plain reports need no ``cryptography``."""
    if not _is_signed(data):
        return formats.to_markdown(Report.from_dict(data))
    from autograder.results.signing import verify

    verify(data, trusted or {})
    c, sig = data["claims"], data["signature"]
    head = (f"> Signed result for {formats.md_cell(c['repository'])} at commit "
            f"{formats.md_cell(c['commit'])}, key {formats.md_cell(sig['key_id'])} "
            f"(signature verified); engine {formats.md_cell(c['engine_version'])}.\n\n")
    return head + formats.to_markdown(Report.from_dict(data["report"]))


def cmd_summary(args: argparse.Namespace) -> int:
    data = _read_json(args.file)
    if not _is_signed(data):  # a self-check preview on a student's machine: no cryptography
        print(_summary_markdown(data, None), end="")
        return EXIT_OK
    from autograder.results.signing import VerificationError

    try:  # a signed result is rendered only once verified
        text = _summary_markdown(data, _trusted_keys(args.public_key))
    except VerificationError as exc:
        print(f"REFUSED {args.file}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(text, end="")
    return EXIT_OK


def _github(args: argparse.Namespace, token_env: str):
    from autograder.results.github_api import DEFAULT_API, GitHub

    token = os.environ.get(token_env) or os.environ.get("GITHUB_TOKEN", "")
    if not token:
        raise ValueError(f"no GitHub token: set {token_env}")
    return GitHub(token, args.api_url or os.environ.get("GITHUB_API_URL") or DEFAULT_API)


def cmd_post_status(args: argparse.Namespace) -> int:
    from autograder.results.github_api import GitHubError, check_request, status_for

    if args.result:
        if args.state or args.description:
            raise ValueError("give either a RESULT or --state/--description, not both")
        from autograder.results.signing import VerificationError, verify

        result = _read_json(args.result)
        if not _is_signed(result):
            raise ValueError(f"{args.result}: not a signed result (`llmsoc sign` makes one)")
        try:  # only a verified claim is posted
            claims = verify(result, _trusted_keys(args.public_key)).claims
        except VerificationError as exc:
            print(f"REFUSED {args.result}: {exc}", file=sys.stderr)
            return EXIT_FAILED
        repository, sha = claims["repository"], claims["commit"]
        state, description = status_for(claims)
    else:
        if not (args.repository and args.sha and args.state):
            raise ValueError("without a RESULT, --repository, --sha and --state are required")
        if args.comment:
            raise ValueError("--comment needs a signed RESULT")
        repository, sha, state = args.repository, args.sha, args.state
        description = args.description or {"pending": "queued for official grading",
                                            "error": "official grading failed; it will be "
                                            "retried"}.get(state, state)
    check_request(repository, sha)
    try:
        github = _github(args, "LLMSOC_STATUS_TOKEN")
        github.create_status(repository, sha, state, description, args.context, args.target_url)
        if args.comment:
            github.create_commit_comment(repository, sha,
                                         _summary_markdown(result, _trusted_keys(args.public_key)))
    except GitHubError as exc:
        print(f"llmsoc: post-status failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"{repository}@{sha[:12]}: {args.context} = {state}: {description}")
    return EXIT_OK


def cmd_request_grading(args: argparse.Namespace) -> int:
    from autograder.results.github_api import GitHubError, check_repository, check_request

    repository, sha = check_request(args.repository, args.sha, args.owner)
    if args.check:
        print(f"valid grading request: {repository}@{sha}")
        return EXIT_OK
    try:
        _github(args, "LLMSOC_DISPATCH_TOKEN").dispatch_workflow(
            check_repository(args.grading_repo), args.workflow, args.ref,
            {"repository": repository, "sha": sha})
    except GitHubError as exc:
        print(f"llmsoc: request-grading failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(f"requested official grading of {repository}@{sha[:12]} from {args.grading_repo}")
    return EXIT_OK


def _add_workflow_commands(sub: argparse._SubParsersAction) -> None:
    k = sub.add_parser("keygen", help="create the grading runner's Ed25519 signing key pair",
                       description="Write a new Ed25519 private key (PEM, mode 600) and its "
                       "public key line. The private key goes to the runner only.")
    k.add_argument("--private", required=True, help="private key file to create")
    k.add_argument("--public", required=True, help="public key file to write")
    k.add_argument("--comment", default="llmsoc grading runner", help="label on the public key")
    k.set_defaults(func=cmd_keygen)

    s = sub.add_parser("sign", help="sign an official JSON report for one repository and commit",
                       description="Sign REPORT (from `llmsoc grade --format json`) over the "
                       "student repository, commit SHA, assignments, score, test-suite hash and "
                       "engine version. The key comes from --key or LLMSOC_SIGNING_KEY (PEM).")
    s.add_argument("report", help="the JSON report of an official grading run")
    s.add_argument("--repository", required=True, help="student repository, owner/name")
    s.add_argument("--commit", required=True, help="the graded commit's full SHA")
    s.add_argument("--key", default=None, help="private key file (default: $LLMSOC_SIGNING_KEY)")
    s.add_argument("--out", default=None, help="write the signed result here (default: stdout)")
    s.set_defaults(func=cmd_sign)

    v = sub.add_parser("verify", help="check a signed result (exit 1 if not authentic)",
                       description="Check that RESULT was signed by a trusted key, was not "
                       "altered, and (when given) is for this repository, commit and assignment.")
    v.add_argument("result")
    v.add_argument("--repository", default=None, help="expected student repository")
    v.add_argument("--commit", default=None, help="expected commit SHA")
    v.add_argument("--assignment", default=None, help="expected assignment")

    b = sub.add_parser("gradebook", help="the SQLite gradebook: add, show, export",
                       description="Every verified attempt in one SQLite file "
                       "(--db, $LLMSOC_GRADEBOOK, or ./gradebook.sqlite). Unsigned or tampered "
                       "results are refused; nothing is ever overwritten.")
    b.add_argument("--db", default=None, help="gradebook file")
    actions = b.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="verify and record signed results")
    add.add_argument("results", nargs="+", help="signed result files")
    show = actions.add_parser("show", help="list every attempt")
    show.add_argument("--repository", default=None)
    show.add_argument("--assignment", default=None)
    export = actions.add_parser("export", help="one grade per repository and assignment")
    export.add_argument("--csv", action="store_true", required=True, help="CSV (for an LMS)")
    export.add_argument("--policy", default="latest", choices=("latest", "best"))
    export.add_argument("--before", default=None,
                        help="deadline (ISO 8601): only attempts graded by then count")
    export.add_argument("--out", default=None, help="write the CSV here (default: stdout)")
    b.set_defaults(func=cmd_gradebook)
    for p in (v, add):
        p.add_argument("--public-key", action="append", default=[],
                       help="trusted public key file (repeatable; also $LLMSOC_PUBLIC_KEYS)")
    v.set_defaults(func=cmd_verify)

    m = sub.add_parser("summary", help="Markdown job summary of a report or signed result",
                       description="Print a GitHub Actions job summary (per-test feedback) for a "
                       "JSON report or a signed result; append it to $GITHUB_STEP_SUMMARY.")
    m.add_argument("file", help="JSON report or signed result")
    m.add_argument("--public-key", action="append", default=[],
                   help="verify a signed result against this key first")
    m.set_defaults(func=cmd_summary)

    p = sub.add_parser("post-status", help="post the grade as a commit status on GitHub",
                       description="Post a signed RESULT's grade ('grade 57/60 (95.0%%)') as a "
                       "commit status on the graded commit, or a pending/error status with "
                       "--repository, --sha and --state. Token: $LLMSOC_STATUS_TOKEN "
                       "(or $GITHUB_TOKEN), permission 'Commit statuses: write'.")
    p.add_argument("result", nargs="?", default=None, help="signed result")
    p.add_argument("--repository", default=None)
    p.add_argument("--sha", default=None)
    p.add_argument("--state", default=None, choices=("pending", "error", "failure", "success"))
    p.add_argument("--description", default=None)
    p.add_argument("--context", default="llmsoc/official-grade", help="the status's name")
    p.add_argument("--target-url", default=None, help="link shown with the status")
    p.add_argument("--comment", action="store_true",
                   help="also post the per-test feedback as a commit comment (the student can "
                   "read it; the token then needs 'Contents: write')")
    p.add_argument("--public-key", action="append", default=[],
                   help="trusted public key file (repeatable; also LLMSOC_PUBLIC_KEYS): the "
                        "RESULT is verified before anything is posted")
    p.set_defaults(func=cmd_post_status)

    r = sub.add_parser("request-grading", help="ask the grading repository for an official grade",
                       description="Start the grading repository's workflow for one repository "
                       "and commit (workflow_dispatch; nothing else is sent). Token: "
                       "$LLMSOC_DISPATCH_TOKEN, permission 'Actions: write' on the grading "
                       "repository only. --check only validates the request.")
    r.add_argument("--repository", required=True, help="student repository, owner/name")
    r.add_argument("--sha", required=True, help="commit SHA to grade")
    r.add_argument("--grading-repo", default=None, help="the instructor's grading repository")
    r.add_argument("--workflow", default="grade-submission.yml")
    r.add_argument("--ref", default="main", help="branch of the grading repository")
    r.add_argument("--owner", default=None, help="refuse repositories of any other owner")
    r.add_argument("--check", action="store_true", help="only validate the request")
    r.set_defaults(func=cmd_request_grading)
    for cmd in (p, r):
        cmd.add_argument("--api-url", default=None,
                         help="GitHub API (default: $GITHUB_API_URL or https://api.github.com)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="llmsoc", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("check", help="self-check: run the public tests with a score preview",
                       description="Run the public tests of your assignment(s) in the sandbox "
                       "and preview the score. Never an official grade.")
    c.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    c.add_argument("--all", action="store_true", help="check every assignment")
    c.add_argument("--debug", action="store_true",
                   help="run your code in-process so breakpoints and debuggers work")
    c.add_argument("-k", default=None, help="only tests matching this pytest -k expression")
    c.set_defaults(func=cmd_check)

    g = sub.add_parser("grade", help="official grade: public + hidden tests, sandboxed",
                       description="Grade a submission with the public and hidden tests. Seeds "
                       "are derived from LLMSOC_SECRET and the submission's hash.")
    g.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    g.add_argument("--all", action="store_true", help="grade every assignment")
    g.add_argument("--submission", required=True,
                   help="a student repository, or an assignment package directory")
    g.add_argument("--course", default=None, help="course repository (default: found from cwd)")
    g.add_argument("--present", action="store_true",
                   help="only the assignments the submission's assignments/ folder contains")
    g.add_argument("--unofficial", action="store_true",
                   help="grade without the official requirements (sandbox layers, course "
                        "secret); the report says unofficial and `sign` refuses it")
    g.set_defaults(func=cmd_grade)

    for cmd in (c, g):
        cmd.add_argument("--format", default="terminal", choices=formats.FORMATS)
        cmd.add_argument("--out", default=None, help="write the report to this file")

    r = sub.add_parser("release", help="regenerate stubs and snapshots; build a student repo",
                       description="Write assignments/<name>/ from solutions/<name>/ (solution "
                       "regions become NotImplementedError), record the public tests' snapshots, "
                       "and optionally assemble a student repository.")
    r.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    r.add_argument("--check", action="store_true",
                   help="only report whether assignments/ is stale (exit 1 if so)")
    r.add_argument("--student-repo", default=None, help="assemble a student repository here")
    r.add_argument("--no-snapshots", action="store_true", help="skip recording snapshots")
    r.set_defaults(func=cmd_release)

    v = sub.add_parser("validate", help="reference 100%% on N seeds, stubs 0%%, mutants caught",
                       description="Validate assignments: the reference scores every point on "
                       "N seeds, blank stubs score zero, every mutant loses points, the suite "
                       "fits its time budget.")
    v.add_argument("assignments", nargs="*", help="assignment names (default: all)")
    v.add_argument("--seeds", type=int, default=20, help="seeds for the reference (default 20)")
    v.set_defaults(func=cmd_validate)
    _add_workflow_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"llmsoc: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - last resort: say so and exit 3
        import traceback

        traceback.print_exc()
        print(f"llmsoc: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
