"""From raw text to a document-term matrix: tokenizer, vocabulary and bag-of-words vectoriser.

A corpus of n documents over a vocabulary of V entries becomes an (n, V) matrix X whose entry
X[i, j] counts how often token j occurs in document i (or, binary, whether it occurs at all).
Column 0 is reserved for the unknown token: it counts the words the vocabulary does not know.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

UNK = "<unk>"
"""The unknown token, always at index 0 of a :class:`Vocabulary`."""

STOP_WORDS = frozenset(
    "a an and are as at be but by for from has have he her his i in is it its me my not of on "
    "or our s she so t that the their them they this to was we were what when which who will "
    "with you your".split())
"""A small English stop-word list (given): pass it as ``tokenize(text, stop_words=STOP_WORDS)``."""

_WORD = re.compile(r"[^\W\d_]+")  # a maximal run of letters (any alphabet), nothing else


def tokenize(text: str, stop_words: Iterable[str] | None = None) -> list[str]:
    """Lower-case ``text`` and split it into maximal runs of letters, in order.

    Everything that is not a letter (spaces, digits, punctuation, the apostrophe, ``_``)
    separates tokens: ``"It's 4 U, isn't it?"`` gives ``["it", "s", "u", "isn", "t", "it"]``.
    "Letter" means a Unicode letter: ``"Café"`` gives ``["café"]``. The regular expression
    ``[^\\W\\d_]+`` matches exactly such a run. If ``stop_words`` is given, tokens that are in
    it (compare after lower-casing) are dropped. Returns a list of str, possibly empty.
    """
    # BEGIN SOLUTION: lower-case, find the runs of letters, drop the stop words
    tokens = _WORD.findall(text.lower())
    if stop_words is None:
        return tokens
    stop = set(stop_words)
    return [t for t in tokens if t not in stop]
    # END SOLUTION


class Vocabulary:
    """A bijection between tokens and indices 0..len-1, built from tokenised documents.

    ``Vocabulary(documents, min_freq=1, max_size=None)``: ``documents`` is a list of token
    lists. A token enters the vocabulary if it occurs at least ``min_freq`` times in total over
    all documents. Index 0 is always :data:`UNK`; the kept tokens follow, most frequent first,
    ties in alphabetical order; ``max_size`` (if given) keeps only the first ``max_size`` of them
    (so ``len(vocab) <= max_size + 1``). Attributes and methods:

    - ``itos``: list of str, ``itos[i]`` is the token of index i (``itos[0] == UNK``);
    - ``stoi``: dict str -> int, the inverse of ``itos``;
    - ``index(token)`` -> int, ``stoi[token]``, or 0 for a token not in the vocabulary;
    - ``token(i)`` -> str, ``itos[i]``; raises ValueError for i outside [0, len);
    - ``encode(tokens)`` -> list of int, ``[index(t) for t in tokens]``;
    - ``size()`` and ``len(vocab)``: the number of entries, UNK included.

    Raises ValueError if ``min_freq < 1``, ``max_size < 1``, or no token reaches ``min_freq``
    (an empty vocabulary: every document empty, or all words rare).
    """

    def __init__(self, documents: Sequence[Sequence[str]], min_freq: int = 1,
                 max_size: int | None = None):
        # BEGIN SOLUTION: count, keep >= min_freq, sort, add UNK
        if min_freq < 1 or (max_size is not None and max_size < 1):
            raise ValueError(f"need min_freq >= 1 and max_size >= 1 (or None), got "
                             f"min_freq={min_freq}, max_size={max_size}")
        counts: dict[str, int] = {}
        for doc in documents:
            for token in doc:
                counts[token] = counts.get(token, 0) + 1
        kept = sorted((t for t, n in counts.items() if n >= min_freq and t != UNK),
                      key=lambda t: (-counts[t], t))
        if not kept:
            raise ValueError(f"empty vocabulary: no token occurs at least {min_freq} times "
                             f"in {len(documents)} documents")
        if max_size is not None:
            kept = kept[:max_size]
        self.itos = [UNK, *kept]
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        # END SOLUTION

    def __len__(self) -> int:
        return len(self.itos)

    def size(self) -> int:
        return len(self.itos)

    def index(self, token: str) -> int:
        # BEGIN SOLUTION: the token's index, 0 (UNK) if unknown
        return self.stoi.get(token, 0)
        # END SOLUTION

    def token(self, i: int) -> str:
        # BEGIN SOLUTION: itos[i], ValueError outside [0, len)
        if not 0 <= i < len(self.itos):
            raise ValueError(f"index {i} outside the vocabulary [0, {len(self.itos)})")
        return self.itos[i]
        # END SOLUTION

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index(t) for t in tokens]


def bag_of_words(documents: Sequence[Sequence[str]], vocab: Vocabulary, binary: bool = False,
                 sparse: bool = False) -> np.ndarray | sp.csr_matrix:
    """Document-term matrix of tokenised ``documents`` over ``vocab``.

    Returns X of shape (n, len(vocab)), float64, with X[i, j] = the number of times token j
    occurs in document i; tokens the vocabulary does not know count in column 0 (UNK). With
    ``binary=True``, X[i, j] = 1.0 if it occurs at least once, else 0.0. An empty document gives
    a row of zeros. ``sparse=False`` returns a dense ``numpy.ndarray``; ``sparse=True`` a
    ``scipy.sparse.csr_matrix`` with the same values (for large corpora: most entries are 0).

    Hint: collect one (row, column) pair per token and let
    ``scipy.sparse.csr_matrix((data, (rows, cols)), shape=...)`` add up the duplicates.
    """
    # BEGIN SOLUTION: (row, col, 1.0) per token into csr_matrix
    rows, cols = [], []
    for i, doc in enumerate(documents):
        ids = vocab.encode(doc)
        rows.extend([i] * len(ids))
        cols.extend(ids)
    data = np.ones(len(rows), dtype=np.float64)
    X = sp.csr_matrix((data, (np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64))),
                      shape=(len(documents), len(vocab)))
    X.sum_duplicates()
    if binary:
        X.data[:] = 1.0
    return X if sparse else X.toarray()
    # END SOLUTION
