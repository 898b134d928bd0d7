"""``llmsoc``: self-check, official grading, release and validation of the course.

Exit codes (every command):
    0  success (``check``: all public tests passed; ``grade``: a report was produced,
       whatever the score; ``release --check``: up to date; ``validate``: valid)
    1  the thing checked is not right (failing self-check, stale release, invalid course)
    2  usage error (unknown assignment, bad path, bad option)
    3  internal error of the grader (please report it)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from autograder import formats
from autograder.config import Course
from autograder.report import Report

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERNAL = 0, 1, 2, 3


def _emit(report: Report, fmt: str, out: str | None) -> None:
    color = out is None and fmt == "terminal" and sys.stdout.isatty()
    text = formats.render(report, fmt, color=color)
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
    from autograder.runner import run

    course = Course.find()
    report = run(course, _names(course, args.assignments, args.all), public_only=True,
                 debug=args.debug, keyword=args.k)
    _emit(report, args.format, args.out)
    return EXIT_OK if report.earned >= report.points else EXIT_FAILED


def cmd_grade(args: argparse.Namespace) -> int:
    from autograder.runner import run

    course = Course.find(Path(args.course) if args.course else None)
    submission = Path(args.submission).resolve()
    if not submission.exists():
        raise ValueError(f"submission path {submission} does not exist")
    report = run(course, _names(course, args.assignments, args.all), submission=submission,
                 official=True)
    _emit(report, args.format, args.out)
    return EXIT_OK


def cmd_release(args: argparse.Namespace) -> int:
    from autograder.release import release
    from autograder.snapshots import record_snapshots

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
    from autograder.validate import validate

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
