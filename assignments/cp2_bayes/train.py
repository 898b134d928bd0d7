"""Generative against discriminative: learning curves of naive Bayes and logistic regression.

Run from the folder that holds the package (the same script works on your copy)::

    python -m cp2_bayes.train --out figures

For a growing number of training documents it trains your ``MultinomialNaiveBayes`` and your
``train_logistic_regression`` on the same data and measures both on held-out documents (a
progress bar counts the fits), on three corpora:

1. a synthetic corpus drawn from a naive Bayes model, whose Bayes-optimal accuracy is known;
2. the same corpus with its 10 most informative words each copied 8 times: the copies are
   perfectly correlated, which breaks naive Bayes' independence assumption but not logistic
   regression's;
3. the 200 newsgroup posts (atheism against space) that ship with gensim.

It writes ``learning_curves.png`` (accuracy against training-set size, log scale, mean and
spread over repeats), ``digits_confusion.png`` (your ``GaussianNaiveBayes`` on the 8x8 digits)
and prints the most informative words of the newsgroup and sentiment classifiers.
Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from autograder.support.digits import load_digits_split
from autograder.support.figures import use_file_backend
from autograder.support.text import (
    NEWSGROUPS_LABELS,
    POLARITY_LABELS,
    load_mini_newsgroups,
    load_polarity,
    make_word_model,
    stratified_split,
)

from . import (
    GaussianNaiveBayes,
    MultinomialNaiveBayes,
    NaiveBayesTextClassifier,
    Vocabulary,
    accuracy,
    bag_of_words,
    confusion_matrix,
    macro_f1,
    tokenize,
    train_logistic_regression,
)

Dataset = Callable[[int, int], tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


def synthetic(duplicated: bool) -> tuple[Dataset, float]:
    """A sampler ``(n_train, repeat) -> X_train, y_train, X_test, y_test`` and the Bayes-optimal
    accuracy of its test set."""
    model = make_word_model(seed=0, num_classes=2, vocab_size=200)
    test = model.sample(2000, seed=1)
    log_p = np.log(model.word_probs)
    informative = np.argsort(-np.abs(log_p[0] - log_p[1]))[:10]

    def features(counts: np.ndarray) -> np.ndarray:
        if not duplicated:
            return counts.astype(np.float64)
        return np.concatenate([counts] + [counts[:, informative]] * 8, axis=1).astype(np.float64)

    def sample(n: int, repeat: int) -> tuple[np.ndarray, ...]:
        train = model.sample(n, seed=1000 * repeat + n)
        return features(train.counts), train.labels, features(test.counts), test.labels

    return sample, model.bayes_accuracy(test)


def newsgroups() -> Dataset:
    texts, labels = load_mini_newsgroups()
    tokens = [tokenize(t) for t in texts]

    def sample(n: int, repeat: int) -> tuple[np.ndarray, ...]:
        train, test = stratified_split(labels, 0.3, seed=repeat)
        train = train[:n]
        vocab = Vocabulary([tokens[i] for i in train])  # from the training documents only
        return (bag_of_words([tokens[i] for i in train], vocab), labels[train],
                bag_of_words([tokens[i] for i in test], vocab), labels[test])

    return sample


def learning_curve(sample: Dataset, sizes: list[int], repeats: int, bar: tqdm
                   ) -> dict[str, np.ndarray]:
    """Held-out accuracy (len(sizes), repeats) of naive Bayes and logistic regression."""
    acc = {"naive Bayes": np.zeros((len(sizes), repeats)),
           "logistic regression": np.zeros((len(sizes), repeats))}
    for i, n in enumerate(sizes):
        for r in range(repeats):
            X, y, X_test, y_test = sample(n, r)
            nb = MultinomialNaiveBayes(alpha=1.0).fit(X, y)
            acc["naive Bayes"][i, r] = accuracy(y_test, nb.predict(X_test))
            lr = train_logistic_regression(X, y, int(y.max()) + 1, seed=r)
            acc["logistic regression"][i, r] = accuracy(y_test, lr.predict(X_test))
            bar.update()
    return acc


def plot_curves(panels: list[tuple[str, list[int], dict[str, np.ndarray], float | None]],
                path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), sharey=False)
    for ax, (title, sizes, acc, bayes) in zip(axes, panels, strict=True):
        for name, a in acc.items():
            mean = a.mean(axis=1)
            ax.plot(sizes, mean, marker="o", label=name)
            ax.fill_between(sizes, a.min(axis=1), a.max(axis=1), alpha=0.2)
        if bayes is not None:
            ax.axhline(bayes, color="k", ls="--", lw=1, label="Bayes-optimal")
        ax.set_xscale("log")
        ax.set(xlabel="training documents", ylabel="held-out accuracy", title=title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(M: np.ndarray, acc: float, f1: float, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.8))
    im = ax.imshow(M, cmap="Blues")
    for (t, p), v in np.ndenumerate(M):
        ax.text(p, t, str(v), ha="center", va="center", fontsize=8,
                color="white" if v > M.max() / 2 else "black")
    fig.colorbar(im, ax=ax)
    ax.set(xlabel="predicted digit", ylabel="true digit", xticks=range(10), yticks=range(10),
           title=f"Gaussian naive Bayes on 8x8 digits\naccuracy {acc:.1%}, macro-F1 {f1:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--repeats", type=int, default=3, help="training sets per size")
    args = parser.parse_args(argv)
    use_file_backend(parser)
    torch.manual_seed(0)

    plain, bayes = synthetic(duplicated=False)
    dup, bayes_dup = synthetic(duplicated=True)
    synthetic_sizes = [20, 50, 100, 200, 500, 1000, 3000]
    news_sizes = [10, 20, 40, 80, 140]
    experiments = [
        ("synthetic: naive Bayes assumption holds", synthetic_sizes, plain, bayes),
        ("synthetic: 10 words copied 8 times", synthetic_sizes, dup, bayes_dup),
        ("newsgroups: atheism vs space", news_sizes, newsgroups(), None),
    ]
    start = time.perf_counter()
    panels = []
    total = sum(len(sizes) for _, sizes, _, _ in experiments) * args.repeats
    with tqdm(total=total, desc="learning curves", unit="fit") as bar:
        for title, sizes, sample, bayes_acc in experiments:
            acc = learning_curve(sample, sizes, args.repeats, bar)
            panels.append((title, sizes, acc, bayes_acc))
    print(f"learning curves in {time.perf_counter() - start:.1f}s")
    for title, sizes, acc, _ in panels:
        print(f"  {title}: n = {sizes[-1]}: " + ", ".join(
            f"{name} {a[-1].mean():.3f}" for name, a in acc.items()))

    digits = load_digits_split(seed=0, scaling="raw")
    flat = [t.flatten(1).numpy().astype(np.float64) for t in (digits.x_train, digits.x_test)]
    gnb = GaussianNaiveBayes(var_smoothing=1e-2).fit(flat[0], digits.y_train.numpy())
    pred = gnb.predict(flat[1])
    y_test = digits.y_test.numpy()
    digits_acc, digits_f1 = accuracy(y_test, pred), macro_f1(y_test, pred, 10)
    print(f"Gaussian naive Bayes on digits: accuracy {digits_acc:.3f}, macro-F1 {digits_f1:.3f}")

    for name, (texts, labels), names in (("newsgroups", load_mini_newsgroups(), NEWSGROUPS_LABELS),
                                         ("sentiment", load_polarity(), POLARITY_LABELS)):
        clf = NaiveBayesTextClassifier(min_freq=2).fit(texts, labels)
        for label, words in zip(names, clf.top_words(8), strict=True):
            print(f"  {name} {label}: {' '.join(words)}")

    args.out.mkdir(parents=True, exist_ok=True)
    plot_curves(panels, args.out / "learning_curves.png")
    plot_confusion(confusion_matrix(y_test, pred, 10), digits_acc, digits_f1,
                   args.out / "digits_confusion.png")
    print(f"wrote {args.out / 'learning_curves.png'} and {args.out / 'digits_confusion.png'}")


if __name__ == "__main__":
    main()
