"""Text corpora for the text-classification checkpoint, all offline.

Real data ships inside gensim's test data (``gensim.test.utils.datapath``), so nothing is
downloaded:

- :func:`load_polarity`: 200 movie-review sentences (Pang and Lee's sentence polarity data),
  100 negative (label 0) and 100 positive (label 1), lower-cased and tokenised with spaces.
- :func:`load_mini_newsgroups`: 200 Usenet posts, 100 from ``alt.atheism`` (label 0) and 100
  from ``sci.space`` (label 1), with their mail headers removed (the ``Newsgroups:`` header
  names the answer).

Synthetic data with a known answer: :func:`make_word_model` draws class-conditional word
distributions; :meth:`WordModel.sample` draws bag-of-words documents from them. The model knows
its true parameters, so the trusted side can compute the Bayes-optimal prediction of every
document (:meth:`WordModel.bayes_predict`) and hold a learned classifier's accuracy against it.

Everything is deterministic given its ``seed``.
"""

from __future__ import annotations

import io
import pickle
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

POLARITY_LABELS = ("neg", "pos")
NEWSGROUPS_LABELS = ("alt.atheism", "sci.space")


def _datapath(name: str) -> Path:
    from gensim.test.utils import datapath

    return Path(datapath(name))


def load_polarity() -> tuple[list[str], np.ndarray]:
    """The 200 labelled sentences of ``pang_lee_polarity.cor``, in file order.

    Returns ``(texts, labels)``: a list of 200 strings and a (200,) int64 array, 0 for a
    negative and 1 for a positive sentence (``POLARITY_LABELS``). Each file line is
    ``__label__neg <sentence>``; the sentences are already lower-case with spaced punctuation
    (the file is Windows-1252: a few accented letters and em dashes).
    """
    texts, labels = [], []
    for line in _datapath("pang_lee_polarity.cor").read_text(encoding="cp1252").splitlines():
        tag, _, sentence = line.strip().partition(" ")
        if not tag:
            continue
        labels.append(POLARITY_LABELS.index(tag.removeprefix("__label__")))
        texts.append(sentence.strip())
    return texts, np.array(labels, dtype=np.int64)


class _BunchUnpickler(pickle.Unpickler):
    """Reads the old scikit-learn ``Bunch`` pickle in gensim's ``mini_newsgroup``; refuses every
    class but the few that file needs, so it cannot run arbitrary code."""

    def find_class(self, module: str, name: str) -> object:
        import copyreg

        import numpy.core.multiarray as multiarray  # noqa: ICN001 - the pickle's own name

        allowed = {
            ("copy_reg", "_reconstructor"): copyreg._reconstructor,
            ("sklearn.datasets.base", "Bunch"): dict,
            ("__builtin__", "dict"): dict,
            ("__builtin__", "object"): object,
            ("numpy.core.multiarray", "_reconstruct"): multiarray._reconstruct,
            ("numpy", "ndarray"): np.ndarray,
            ("numpy", "dtype"): np.dtype,
        }
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"mini_newsgroup: refusing {module}.{name}")
        return allowed[(module, name)]


def _strip_headers(post: str) -> str:
    """The body of a Usenet post: everything after the first blank line."""
    _, sep, body = post.partition("\n\n")
    return body.strip() if sep else post.strip()


def load_mini_newsgroups() -> tuple[list[str], np.ndarray]:
    """The 200 posts of gensim's ``mini_newsgroup`` (a 20 Newsgroups sample), headers removed.

    Returns ``(texts, labels)``: 200 strings and a (200,) int64 array, 0 for ``alt.atheism`` and
    1 for ``sci.space`` (``NEWSGROUPS_LABELS``), 100 each, in file order.
    """
    raw = zlib.decompress(_datapath("mini_newsgroup").read_bytes())
    bunch = _BunchUnpickler(io.BytesIO(raw), encoding="latin1").load()
    names = [str(n) for n in bunch["target_names"]]
    if tuple(names) != NEWSGROUPS_LABELS:  # pragma: no cover - a changed gensim data file
        raise RuntimeError(f"mini_newsgroup: unexpected target names {names}")
    texts = [_strip_headers(str(post)) for post in bunch["data"]]
    return texts, np.asarray(bunch["target"], dtype=np.int64).copy()


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle with ``seed`` and split indices into (train, test), keeping class proportions.

    Returns two sorted-by-draw int64 index arrays; every class with at least two examples has at
    least one in each part.
    """
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = min(max(round(len(idx) * test_fraction), 1), len(idx) - 1) if len(idx) > 1 else 0
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    return (rng.permutation(np.concatenate(train)).astype(np.int64),
            rng.permutation(np.concatenate(test)).astype(np.int64))


def word_names(vocab_size: int) -> list[str]:
    """``vocab_size`` distinct lower-case, letters-only pseudo-words (``"baa"``, ``"bab"``, ...).

    Letters only, so any tokenizer that splits on non-letters keeps each word whole.
    """
    width = 1
    while 26 ** width < vocab_size:
        width += 1
    out = []
    for i in range(vocab_size):
        letters = []
        for _ in range(width):
            i, r = divmod(i, 26)
            letters.append(chr(ord("a") + r))
        out.append("w" + "".join(reversed(letters)))
    return out


@dataclass(frozen=True)
class Corpus:
    """Documents drawn from a :class:`WordModel`.

    counts: (n, V) int64 word counts; labels: (n,) int64 in [0, C); documents: the same
    documents as strings of space-separated pseudo-words (word order shuffled).
    """

    counts: np.ndarray
    labels: np.ndarray
    documents: list[str]


@dataclass(frozen=True)
class WordModel:
    """A multinomial naive-Bayes generative model with known parameters.

    class_prior: (C,) class probabilities; word_probs: (C, V) word distributions, each row
    sums to one; words: the V pseudo-words. A document of class c has a length L (independent of
    c) and L words drawn independently from word_probs[c], so the Bayes-optimal rule is
    ``argmax_c log class_prior[c] + sum_w counts[w] log word_probs[c, w]``.
    """

    class_prior: np.ndarray
    word_probs: np.ndarray
    words: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.class_prior)

    def sample(self, n_docs: int, seed: int, mean_length: float = 30.0,
               with_text: bool = False) -> Corpus:
        """``n_docs`` documents: class ~ class_prior, length L = 1 + Poisson(mean_length - 1),
        word counts ~ Multinomial(L, word_probs[class]). ``with_text`` also writes the strings
        (slower; leave it off when only counts are needed)."""
        if n_docs < 1 or mean_length < 1:
            raise ValueError(f"need n_docs >= 1 and mean_length >= 1, got {n_docs}, "
                             f"{mean_length}")
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.num_classes, size=n_docs, p=self.class_prior).astype(np.int64)
        lengths = 1 + rng.poisson(mean_length - 1, size=n_docs)
        counts = rng.multinomial(lengths, self.word_probs[labels]).astype(np.int64)  # (n, V)
        documents = []
        if with_text:
            vocab = np.array(self.words)
            for row in counts:
                tokens = np.repeat(vocab, row)
                documents.append(" ".join(rng.permutation(tokens)))
        return Corpus(counts=counts, labels=labels, documents=documents)

    def sample_sparse(self, n_docs: int, seed: int, mean_length: float = 30.0
                      ) -> tuple[sp.csr_matrix, np.ndarray]:
        """Like :meth:`sample`, for corpora too large for a dense matrix: returns
        ``(counts, labels)`` with counts an (n, V) float64 ``scipy.sparse.csr_matrix``. Each
        token is drawn by inverting its class's cumulative word distribution (a different
        random stream from :meth:`sample`, so the same seed gives other documents)."""
        if n_docs < 1 or mean_length < 1:
            raise ValueError(f"need n_docs >= 1 and mean_length >= 1, got {n_docs}, "
                             f"{mean_length}")
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.num_classes, size=n_docs, p=self.class_prior).astype(np.int64)
        lengths = 1 + rng.poisson(mean_length - 1, size=n_docs)
        rows = np.repeat(np.arange(n_docs), lengths)  # (total tokens,)
        token_class = labels[rows]
        cdf = np.cumsum(self.word_probs, axis=1)  # (C, V)
        cdf[:, -1] = 1.0
        cols = np.empty(rows.shape[0], dtype=np.int64)
        u = rng.random(rows.shape[0])
        for c in range(self.num_classes):
            mask = token_class == c
            cols[mask] = np.searchsorted(cdf[c], u[mask], side="right")
        vocab_size = self.word_probs.shape[1]
        counts = sp.csr_matrix((np.ones(rows.shape[0]), (rows, np.minimum(cols, vocab_size - 1))),
                               shape=(n_docs, vocab_size))
        counts.sum_duplicates()
        return counts, labels

    def log_joint(self, counts: np.ndarray) -> np.ndarray:
        """(n, C): ``log class_prior[c] + sum_w counts[n, w] log word_probs[c, w]`` (counts
        dense or scipy-sparse)."""
        if not sp.issparse(counts):
            counts = np.asarray(counts, dtype=np.float64)
        return np.asarray(counts @ np.log(self.word_probs).T) + np.log(self.class_prior)

    def bayes_predict(self, counts: np.ndarray) -> np.ndarray:
        """(n,) int64: the Bayes-optimal class of each document (the true model's argmax)."""
        return self.log_joint(counts).argmax(axis=1).astype(np.int64)

    def bayes_accuracy(self, corpus: Corpus) -> float:
        """Accuracy of the Bayes-optimal rule on ``corpus`` (no learned classifier beats it in
        expectation)."""
        return float((self.bayes_predict(corpus.counts) == corpus.labels).mean())


def make_word_model(seed: int, num_classes: int = 2, vocab_size: int = 500,
                    separation: float = 0.25, zipf: float = 1.0,
                    class_prior: np.ndarray | None = None) -> WordModel:
    """Random class-conditional word distributions around a shared Zipfian background.

    ``word_probs[c, w] ∝ rank(w)^(-zipf) * exp(separation * g[c, w])`` with g ~ N(0, 1), word
    ranks shuffled; ``separation`` sets how different the classes are (0: identical, so the
    Bayes-optimal accuracy is the largest prior). ``class_prior`` defaults to uniform.
    """
    if num_classes < 2 or vocab_size < 2 or separation < 0:
        raise ValueError("need num_classes >= 2, vocab_size >= 2 and separation >= 0")
    rng = np.random.default_rng(seed)
    background = rng.permutation(np.arange(1, vocab_size + 1, dtype=np.float64) ** -zipf)
    logits = np.log(background) + separation * rng.standard_normal((num_classes, vocab_size))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    if class_prior is None:
        prior = np.full(num_classes, 1.0 / num_classes)
    else:
        prior = np.asarray(class_prior, dtype=np.float64)
        if prior.shape != (num_classes,) or (prior <= 0).any():
            raise ValueError(f"class_prior must be {num_classes} positive numbers")
        prior = prior / prior.sum()
    return WordModel(class_prior=prior, word_probs=probs, words=word_names(vocab_size))
