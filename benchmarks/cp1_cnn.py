"""Checkpoint 1's reference against its anchors: conv2d speed and digits accuracy.

    python benchmarks/cp1_cnn.py [--repeats 20] [--seeds 5] [--threads 1]

1. The reference ``conv2d`` (sliding windows + one matrix product) against
   ``torch.nn.functional.conv2d`` on the same inputs: median milliseconds of forward plus
   backward (gradients for x, weight and bias) at several sizes, and their ratio.
2. Test accuracy on the 8x8 digits of the reference CNN (``train_classifier`` with its
   defaults) against scikit-learn's ``LogisticRegression`` on the same splits
   (``load_digits_split(seed, scaling="standard")``), per seed and on average.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "solutions"))
from cp1_cnn import conv2d, evaluate, train_classifier  # noqa: E402

from autograder.support.digits import load_digits_split  # noqa: E402

# (B, C_in, C_out, H = W, kernel, padding): the CNN's two layers on digits and shapes, larger ones
SIZES = [(32, 1, 16, 8, 3, 1), (32, 16, 32, 4, 3, 1), (64, 16, 32, 12, 3, 1),
         (32, 3, 32, 32, 3, 1), (16, 32, 64, 28, 5, 2)]


def forward_backward_ms(fn, x, w, b, padding: int, repeats: int) -> float:
    """Median milliseconds of fn(x, w, b, padding=...) and the backward of its sum."""
    times = []
    for i in range(repeats + 3):
        xs, ws, bs = (t.detach().requires_grad_(True) for t in (x, w, b))
        start = time.perf_counter()
        fn(xs, ws, bs, padding=padding).sum().backward()
        if i >= 3:  # warm-up
            times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def conv_table(repeats: int) -> None:
    print("conv2d forward + backward, median ms")
    print(f"{'B, C_in, C_out, H=W, k, pad':>30} {'reference':>10} {'F.conv2d':>10} {'ratio':>7}")
    for B, c_in, c_out, h, k, p in SIZES:
        g = torch.Generator().manual_seed(0)
        x = torch.randn(B, c_in, h, h, generator=g)
        w = torch.randn(c_out, c_in, k, k, generator=g)
        b = torch.randn(c_out, generator=g)
        ours = forward_backward_ms(conv2d, x, w, b, p, repeats)
        torch_ms = forward_backward_ms(F.conv2d, x, w, b, p, repeats)
        print(f"{str((B, c_in, c_out, h, k, p)):>30} {ours:10.3f} {torch_ms:10.3f} "
              f"{ours / torch_ms:7.2f}")


def digits_table(seeds: int) -> None:
    from sklearn.linear_model import LogisticRegression

    print("\ndigits test accuracy (same split per seed; 269 test images)")
    print(f"{'seed':>5} {'CNN':>7} {'logreg':>7} {'CNN s':>7}")
    cnn, logreg = [], []
    for seed in range(seeds):
        d = load_digits_split(seed=seed, scaling="standard")
        start = time.perf_counter()
        model = train_classifier(d.x_train, d.y_train, num_classes=10, seed=seed)
        seconds = time.perf_counter() - start
        cnn.append(evaluate(model, d.x_test, d.y_test)[0])
        clf = LogisticRegression(max_iter=5000).fit(d.x_train.flatten(1).numpy(),
                                                    d.y_train.numpy())
        logreg.append(clf.score(d.x_test.flatten(1).numpy(), d.y_test.numpy()))
        print(f"{seed:5d} {cnn[-1]:7.3f} {logreg[-1]:7.3f} {seconds:7.1f}")
    print(f"{'mean':>5} {statistics.mean(cnn):7.3f} {statistics.mean(logreg):7.3f}")
    print(f"{'min':>5} {min(cnn):7.3f} {min(logreg):7.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    conv_table(args.repeats)
    digits_table(args.seeds)


if __name__ == "__main__":
    main()
