"""Checkpoint 2 benchmark: the reference naive Bayes against scikit-learn's, at scale.

    python benchmarks/cp2_bayes.py [--docs 100000] [--features 10000] [--repeats 3]

Draws a sparse synthetic corpus (``autograder.support.text``: documents of about 50 words over
``--features`` words, two classes, known Bayes-optimal rule), fits on ``--docs`` documents and
predicts ``--docs`` held-out ones, with the reference's ``MultinomialNaiveBayes`` /
``BernoulliNaiveBayes`` and scikit-learn's ``MultinomialNB`` / ``BernoulliNB`` on the same CSR
matrices. Prints the best-of-``--repeats`` fit + predict times, their ratio (the goal: the
reference within 2x of scikit-learn) and the held-out accuracies side by side with the
Bayes-optimal accuracy, plus how many predictions differ.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "solutions"))
sys.path.insert(0, str(ROOT))

import cp2_bayes  # noqa: E402
from sklearn.naive_bayes import BernoulliNB, MultinomialNB  # noqa: E402

from autograder.support.text import make_word_model  # noqa: E402


def best_time(make, X, y, X_test, repeats: int) -> tuple[float, np.ndarray]:  # noqa: ANN001
    """Best wall time of fit(X, y) + predict(X_test), and the predictions."""
    best, pred = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        pred = make().fit(X, y).predict(X_test)
        best = min(best, time.perf_counter() - start)
    return best, np.asarray(pred)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    model = make_word_model(seed=0, num_classes=2, vocab_size=args.features)
    X, y = model.sample_sparse(args.docs, seed=1, mean_length=50)
    X_test, y_test = model.sample_sparse(args.docs, seed=2, mean_length=50)
    bayes = float((model.bayes_predict(X_test) == y_test).mean())
    print(f"corpus: {args.docs:,} training and {args.docs:,} held-out documents x "
          f"{args.features:,} features, CSR, {X.nnz:,} + {X_test.nnz:,} non-zeros "
          f"({X.nnz / (X.shape[0] * X.shape[1]):.2%} dense); drawn in "
          f"{time.perf_counter() - start:.1f}s; Bayes-optimal held-out accuracy {bayes:.4f}")
    print(f"fit + predict, best of {args.repeats}\n")
    header = (f"{'model':14s} {'reference s':>12s} {'sklearn s':>10s} {'ratio':>6s} "
              f"{'ref acc':>8s} {'sk acc':>8s} {'differ':>7s}")
    print(header)
    print("-" * len(header))
    pairs = {"multinomial": (lambda: cp2_bayes.MultinomialNaiveBayes(alpha=1.0),
                             lambda: MultinomialNB(alpha=1.0)),
             "Bernoulli": (lambda: cp2_bayes.BernoulliNaiveBayes(alpha=1.0),
                           lambda: BernoulliNB(alpha=1.0))}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (ours, theirs) in pairs.items():
            t_ref, p_ref = best_time(ours, X, y, X_test, args.repeats)
            t_sk, p_sk = best_time(theirs, X, y, X_test, args.repeats)
            print(f"{name:14s} {t_ref:12.3f} {t_sk:10.3f} {t_ref / t_sk:6.2f} "
                  f"{(p_ref == y_test).mean():8.4f} {(p_sk == y_test).mean():8.4f} "
                  f"{int((p_ref != p_sk).sum()):7d}")
    print("\nratio = reference / scikit-learn time (goal: <= 2); differ = predictions that "
          "differ between the two")


if __name__ == "__main__":
    main()
