"""What the sandbox costs: pipe round trips and the warm-up's suite sandboxed vs in-process.

    python benchmarks/pipe_cost.py [--calls 2000] [--repeats 3] [--assignment w2_pytorch_basics]

Reports the median round trip of a small call (an ``echo`` of an int) and of a 4 MB float32
tensor through a sandboxed worker, then the reference's public + hidden suite run sandboxed
and in-process (``--llmsoc-debug``), median of ``--repeats`` runs each, two ways:

* cold: each grading in a fresh Python process, as ``llmsoc grade`` runs (the grader imports
  torch and pytest either way; the sandbox adds a worker that imports torch on the other core);
* warm: repeated gradings in one process, where in-process mode has everything imported
  already and the sandbox still starts a fresh worker each time.

It also reports the worker's start-up (process start to its hello, torch imported, the
sandbox's root built), median of ``--starts`` starts, and the sandbox mode used.

Goals: small call under 1 ms; sandboxed suite within 1.25x of in-process.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from autograder.grading.config import Course
from autograder.grading.proxy import Submission, Worker, WorkerOptions
from autograder.grading.runner import run
from autograder.sandbox import host
from autograder.sandbox.intake import IntakeLimits, read_package


def bench_worker(pkg: Path) -> Worker:
    return Worker(WorkerOptions(intake=read_package(pkg.parent, (pkg.name,), IntakeLimits()),
                                threads=1))


def start_up(starts: int) -> float:
    """Median seconds from starting a worker to its hello."""
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "bench_pkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("def echo(x):\n    return x\n")
        times = []
        for _ in range(starts):
            worker = bench_worker(pkg)
            t0 = time.perf_counter()
            worker.start()
            times.append(time.perf_counter() - t0)
            worker.close()
    return statistics.median(times)


def round_trips(calls: int) -> tuple[float, float]:
    """Median seconds per call: a small one, and a 4 MB tensor there and back."""
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "bench_pkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("def echo(x):\n    return x\n")
        worker = bench_worker(pkg)
        try:
            echo = Submission(worker).echo
            echo(0)  # start-up and first-call costs are not round trips

            def median(arg: object, n: int) -> float:
                times = []
                for _ in range(n):
                    t0 = time.perf_counter()
                    echo(arg)
                    times.append(time.perf_counter() - t0)
                return statistics.median(times)

            small = median(1, calls)
            big = median(torch.randn(1 << 20), max(calls // 20, 20))
        finally:
            worker.close()
    return small, big


COLD = """
import sys
from autograder.grading.config import Course
from autograder.grading.runner import run
course = Course.find()
name, debug = sys.argv[1], sys.argv[2] == "1"
report = run(course, [name], submission=course.solution_dir(name), official=False, debug=debug)
assert report.earned == report.points, "the reference should score full marks"
"""


def cold(name: str, debug: bool) -> float:
    """Seconds for a whole grading process, interpreter start to exit."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", COLD, name, "1" if debug else "0"], check=True)
    return time.perf_counter() - t0


def warm(course: Course, name: str, debug: bool) -> float:
    t0 = time.perf_counter()
    report = run(course, [name], submission=course.solution_dir(name), official=False,
                 debug=debug)
    assert report.earned == report.points, "the reference should score full marks"
    return time.perf_counter() - t0


def suite_times(course: Course, name: str, repeats: int) -> dict[str, float]:
    warm(course, name, True)  # imports, so "warm" is warm
    times = {}
    for mode, fn in (("cold", lambda d: cold(name, d)), ("warm", lambda d: warm(course, name, d))):
        for debug in (False, True):
            key = f"{mode} {'in-process' if debug else 'sandboxed'}"
            times[key] = statistics.median(fn(debug) for _ in range(repeats))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--assignment", default="w2_pytorch_basics")
    p.add_argument("--starts", type=int, default=5)
    args = p.parse_args()
    print(f"sandbox mode: {host.probe().mode}")
    print(f"worker start-up (median of {args.starts}): {start_up(args.starts):.2f} s")
    small, big = round_trips(args.calls)
    print(f"small call round trip (median of {args.calls}): {small * 1e3:.3f} ms")
    print(f"4 MB tensor round trip (median):            {big * 1e3:.3f} ms")
    t = suite_times(Course.find(), args.assignment, args.repeats)
    for key, secs in t.items():
        print(f"{args.assignment} suite, {key}: {secs:.2f} s (median of {args.repeats})")
    for mode in ("cold", "warm"):
        ratio = t[f"{mode} sandboxed"] / t[f"{mode} in-process"]
        print(f"ratio sandboxed / in-process, {mode}: {ratio:.2f}x (goal <= 1.25x)")


if __name__ == "__main__":
    main()
