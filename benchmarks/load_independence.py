"""Grades do not depend on the machine's load: a reference graded idle and as one of N at once.

    python benchmarks/load_independence.py [--assignment cp4_transformer] [--concurrent 4]

Grades the reference once on an otherwise idle machine, then ``--concurrent`` gradings of it
at the same time (separate ``llmsoc grade`` processes, as a runner grading several pushes would),
and prints each run's per-test results (status, points) and times side by side. Exits 1 when
any concurrent run's per-test results differ from the idle run's. Run it with nothing else
heavy on the machine: the point is the load it makes itself.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def grade(assignment: str, out: Path) -> tuple[dict, float]:
    """One ``llmsoc grade`` process: (its JSON report, wall seconds)."""
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder.cli", "grade", assignment, "--submission",
                    str(ROOT / "solutions"), "--format", "json", "--out", str(out)],
                   check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
    return json.loads(out.read_text()), time.perf_counter() - t0


def per_test(report: dict) -> dict[str, tuple[str, float, float]]:
    return {t["name"]: (t["status"], t["earned"], t["duration_s"])
            for a in report["assignments"] for t in a["tests"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--assignment", default="cp4_transformer")
    p.add_argument("--concurrent", type=int, default=4)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        idle, idle_s = grade(args.assignment, Path(tmp) / "idle.json")
        with ThreadPoolExecutor(args.concurrent) as pool:
            runs = list(pool.map(lambda i: grade(args.assignment, Path(tmp) / f"load{i}.json"),
                                 range(args.concurrent)))
    base = per_test(idle)
    loaded = [per_test(r) for r, _ in runs]
    heads = ["idle"] + [f"load {i + 1}" for i in range(len(runs))]
    print(f"| test | {' | '.join(heads)} |")
    print(f"|---|{'---|' * len(heads)}")
    for name, (status, earned, secs) in base.items():
        cells = [f"{status} {earned:g} ({secs:.1f} s)"] + [
            f"{r[name][0]} {r[name][1]:g} ({r[name][2]:.1f} s)" for r in loaded]
        print(f"| {name} | {' | '.join(cells)} |")
    totals = [f"{idle['earned']:g}/{idle['points']:g} in {idle_s:.0f} s"] + [
        f"{r['earned']:g}/{r['points']:g} in {s:.0f} s" for r, s in runs]
    print(f"| **total** | {' | '.join(totals)} |")
    same = all({k: v[:2] for k, v in r.items()} == {k: v[:2] for k, v in base.items()}
               for r in loaded)
    print("per-test results identical under load" if same else "RESULTS DIFFER UNDER LOAD")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
