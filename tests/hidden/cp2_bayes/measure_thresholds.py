"""Evidence for the training thresholds of the hidden suite (not a test; run it directly).

    python tests/hidden/cp2_bayes/measure_thresholds.py --seeds 20

For each seed it rebuilds the data of test_synthetic_corpus_near_bayes_optimal,
test_newsgroups_accuracy and test_trained_accuracy_matches_reference, runs the reference
in-process, and also a few wrong implementations, then prints min / mean / max. A threshold is
justified when the reference's worst seed clears it with margin and the wrong ones fall below.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "solutions"))
sys.path.insert(0, str(ROOT))

import cp2_bayes as ref  # noqa: E402

from autograder.support.text import (  # noqa: E402
    load_mini_newsgroups,
    make_word_model,
    stratified_split,
)

PRIOR = np.array([0.5, 0.3, 0.2])


class UniformPriorNB(ref.MultinomialNaiveBayes):
    def fit(self, X, y):  # noqa: ANN001, ANN201
        super().fit(X, y)
        self.class_log_prior_ = np.full(len(self.classes_), -np.log(len(self.classes_)))
        return self


class UnsmoothedDenominatorNB(ref.MultinomialNaiveBayes):
    def fit(self, X, y):  # noqa: ANN001, ANN201
        super().fit(X, y)
        fc = self.feature_count_
        self.feature_log_prob_ = np.log(fc + self.alpha) - np.log(fc.sum(1, keepdims=True))
        return self


def synthetic(seed: int) -> dict[str, float]:
    wm = make_word_model(seed, num_classes=3, vocab_size=300, class_prior=PRIOR)
    train, test = wm.sample(6000, seed=seed + 1), wm.sample(2000, seed=seed + 2)
    X, y, Xt = train.counts.astype(float), train.labels, test.counts.astype(float)
    bayes = wm.bayes_accuracy(test)
    models = {"reference": ref.MultinomialNaiveBayes(1.0), "uniform prior": UniformPriorNB(1.0),
              "alpha=50": ref.MultinomialNaiveBayes(50.0),
              "bad denominator": UnsmoothedDenominatorNB(1.0),
              "Bernoulli model": ref.BernoulliNaiveBayes(1.0)}
    out = {"bayes": bayes}
    for name, m in models.items():
        out[name] = bayes - float((m.fit(X, y).predict(Xt) == test.labels).mean())
    return out


def newsgroups(seed: int) -> dict[str, float]:
    texts, labels = load_mini_newsgroups()
    tr, te = stratified_split(labels, 0.3, seed)
    train = [texts[i] for i in tr]
    test = [texts[i] for i in te]
    out = {}
    for name, clf in {"reference": ref.NaiveBayesTextClassifier(),
                      "alpha=1e-3": ref.NaiveBayesTextClassifier(alpha=1e-3),
                      "vocabulary max_size=20": ref.NaiveBayesTextClassifier(max_size=20)}.items():
        out[name] = float((clf.fit(train, labels[tr]).predict(test) == labels[te]).mean())
    return out


def train_no_zero_grad(X, y, C, epochs=100, lr=0.05, l2=1e-2):  # noqa: ANN001, ANN201
    model = ref.LogisticRegression(X.shape[1], C)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(epochs):
        ref.logreg_loss(model.weight, model.bias, X, y, l2).backward()
        opt.step()
    return model


def logreg(seed: int) -> dict[str, float]:
    wm = make_word_model(seed, num_classes=3, vocab_size=300, class_prior=PRIOR)
    train, test = wm.sample(1000, seed=seed + 1), wm.sample(2000, seed=seed + 2)
    X, y, Xt = train.counts.astype(float), train.labels, test.counts.astype(float)

    def acc(m) -> float:  # noqa: ANN001
        return float((m.predict(Xt).numpy() == test.labels).mean())

    reference = acc(ref.train_logistic_regression(X, y, 3, seed=1))
    return {"reference": reference,
            "no zero_grad (gap)": reference - acc(train_no_zero_grad(X, y, 3)),
            "5 epochs (gap)": reference - acc(ref.train_logistic_regression(X, y, 3, epochs=5)),
            "lr=1e-3 (gap)": reference - acc(ref.train_logistic_regression(X, y, 3, lr=1e-3)),
            "bayes - reference": wm.bayes_accuracy(test) - reference}


def report(title: str, rows: list[dict[str, float]]) -> None:
    print(title)
    for key in rows[0]:
        v = np.array([r[key] for r in rows])
        print(f"  {key:26s} min {v.min():.4f}  mean {v.mean():.4f}  max {v.max():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    seeds = range(args.seeds)
    report("synthetic corpus: Bayes-optimal accuracy, and its gap to each model (bar: gap "
           "<= 0.04)", [synthetic(s) for s in seeds])
    report("newsgroups: held-out accuracy (bar: >= 0.80, half credit 0.70)",
           [newsgroups(s) for s in seeds])
    report("logistic regression: held-out accuracy and gaps below the reference (bar: gap "
           "<= 0.02)", [logreg(s) for s in seeds])
    print(f"{args.seeds} seeds in {time.perf_counter() - start:.0f}s")


if __name__ == "__main__":
    main()
