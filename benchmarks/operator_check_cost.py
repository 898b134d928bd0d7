"""What the worker's operator check costs (autograder.worker.guards.operator_check).

    python benchmarks/operator_check_cost.py [--steps 300] [--repeats 5]

Trains a tiny embedding + MLP language model (the size of the course's test models, where the
cost per operator dominates) for ``--steps`` SGD steps on one thread, with and without the
check refusing ``aten::_softmax``, and reports the median time of ``--repeats`` runs each, the
operators dispatched and the cost per operator. This is why the plugin leaves the check off in
training and perplexity tests: there it would roughly double the CPU time of a small model.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from autograder.worker.guards import operator_check


def train(steps: int) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Embedding(50, 32), torch.nn.Linear(32, 64),
                                torch.nn.ReLU(), torch.nn.Linear(64, 50))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randint(0, 50, (16, 12))
    for _ in range(steps):
        opt.zero_grad()
        loss = -model(x).log_softmax(-1)[..., 0].mean()
        loss.backward()
        opt.step()


def count_ops(steps: int) -> int:
    from torch.utils._python_dispatch import TorchDispatchMode

    class Count(TorchDispatchMode):
        n = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001
            Count.n += 1
            return func(*args, **(kwargs or {}))

    with Count():
        train(steps)
    return Count.n


def timed(steps: int, checked: bool) -> float:
    start = time.perf_counter()
    if checked:
        with operator_check(frozenset({"aten::_softmax"})):
            train(steps)
    else:
        train(steps)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    train(5)  # warm-up: first-call costs are not the check's
    plain = statistics.median(timed(args.steps, False) for _ in range(args.repeats))
    checked = statistics.median(timed(args.steps, True) for _ in range(args.repeats))
    ops = count_ops(args.steps)
    print(f"{args.steps} steps, {ops} operators: plain {plain:.3f} s, checked {checked:.3f} s "
          f"({checked / plain:.2f}x), {(checked - plain) / ops * 1e6:.1f} us per operator")


if __name__ == "__main__":
    main()
