"""Raw text in, labels out: tokenizer, vocabulary, bag of words and multinomial naive Bayes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .naive_bayes import MultinomialNaiveBayes
from .text import Vocabulary, bag_of_words, tokenize


class NaiveBayesTextClassifier:
    """A text classifier built from the pieces of this checkpoint.

    ``fit(texts, labels)``: tokenize every text (with ``stop_words``), build a
    ``Vocabulary(tokens, min_freq, max_size)`` from the training texts only, vectorise them
    with ``bag_of_words(..., binary=binary, sparse=True)`` and fit
    ``MultinomialNaiveBayes(alpha)``; store the two as ``vocab`` and ``model``; return ``self``.
    ``predict(texts)`` and ``predict_proba(texts)`` tokenise and vectorise new texts with the
    *training* vocabulary (unknown words go to UNK) and ask the model: (n,) int64 labels and
    (n, C) probabilities. ``top_words(k)``: for each class, the k words of
    ``model.informative_features(k)``, as a list of C lists of str.
    """

    def __init__(self, alpha: float = 1.0, min_freq: int = 1, binary: bool = False,
                 stop_words: Iterable[str] | None = None, max_size: int | None = None):
        self.alpha, self.min_freq, self.binary, self.max_size = alpha, min_freq, binary, max_size
        self.stop_words = None if stop_words is None else frozenset(stop_words)
        self.vocab: Vocabulary | None = None
        self.model: MultinomialNaiveBayes | None = None

    def _features(self, texts: Sequence[str]) -> Any:
        tokens = [tokenize(t, self.stop_words) for t in texts]
        return bag_of_words(tokens, self.vocab, binary=self.binary, sparse=True)

    def fit(self, texts: Sequence[str], labels: Any) -> NaiveBayesTextClassifier:
        # BEGIN SOLUTION: tokens, vocabulary, counts, naive Bayes
        tokens = [tokenize(t, self.stop_words) for t in texts]
        self.vocab = Vocabulary(tokens, min_freq=self.min_freq, max_size=self.max_size)
        X = bag_of_words(tokens, self.vocab, binary=self.binary, sparse=True)
        self.model = MultinomialNaiveBayes(self.alpha).fit(X, labels)
        return self
        # END SOLUTION

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        if self.model is None:
            raise ValueError("NaiveBayesTextClassifier is not fitted yet: call fit first")
        return self.model.predict(self._features(texts))

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.model is None:
            raise ValueError("NaiveBayesTextClassifier is not fitted yet: call fit first")
        return self.model.predict_proba(self._features(texts))

    def top_words(self, k: int = 10) -> list[list[str]]:
        if self.model is None:
            raise ValueError("NaiveBayesTextClassifier is not fitted yet: call fit first")
        return [[self.vocab.itos[j] for j in row] for row in self.model.informative_features(k)]
