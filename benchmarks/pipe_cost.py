"""What the sandbox costs: pipe round trips and the warm-up's suite sandboxed vs in-process.

    python benchmarks/pipe_cost.py [--calls 2000] [--repeats 3] [--assignment w2_pytorch_basics]

Reports the median round trip of a small call (an ``echo`` of an int) and of a 4 MB float32
tensor through a sandboxed worker, then the reference's public + hidden suite run sandboxed
and in-process (``--llmsoc-debug``), median of ``--repeats`` runs each.
Goals: small call under 1 ms; sandboxed suite within 1.25x of in-process.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from autograder.config import Course
from autograder.proxy import Submission, Worker, WorkerOptions
from autograder.runner import run


def round_trips(calls: int) -> tuple[float, float]:
    """Median seconds per call: a small one, and a 4 MB tensor there and back."""
    with tempfile.TemporaryDirectory() as tmp:
        pkg = Path(tmp) / "bench_pkg"
        pkg.mkdir()
        (pkg / "__init__.py").write_text("def echo(x):\n    return x\n")
        worker = Worker(WorkerOptions(package_dir=pkg))
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


def suite_times(course: Course, name: str, repeats: int) -> tuple[float, float]:
    def once(debug: bool) -> float:
        report = run(course, [name], submission=course.solution_dir(name), official=True,
                     debug=debug)
        a = report.assignments[0]
        assert a.earned == a.points, "the reference should score full marks"
        return report.environment["wall_time_s"]

    sandboxed = statistics.median(once(False) for _ in range(repeats))
    in_process = statistics.median(once(True) for _ in range(repeats))
    return sandboxed, in_process


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=2000)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--assignment", default="w2_pytorch_basics")
    args = p.parse_args()
    small, big = round_trips(args.calls)
    print(f"small call round trip (median of {args.calls}): {small * 1e3:.3f} ms")
    print(f"4 MB tensor round trip (median):            {big * 1e3:.3f} ms")
    sandboxed, in_process = suite_times(Course.find(), args.assignment, args.repeats)
    print(f"{args.assignment} suite, sandboxed:  {sandboxed:.2f} s (median of {args.repeats})")
    print(f"{args.assignment} suite, in-process: {in_process:.2f} s")
    print(f"ratio sandboxed / in-process: {sandboxed / in_process:.2f}x (goal <= 1.25x)")


if __name__ == "__main__":
    main()
