"""Offline text for the language-model assignments: Wikipedia prose, a Markov source whose
entropy rate is known exactly, and a small sentence-classification task.

Nothing is downloaded:

- :func:`wikipedia_text` cleans the shortened English Wikipedia dump that gensim ships with its
  test data (about 100 articles) into plain ASCII prose;
- :class:`MarkovSource` is a random order-``k`` Markov chain over a small alphabet. Its entropy
  rate ``H`` (nats per symbol) is computed exactly, so the perplexity ``exp(H)`` is the lowest any
  language model can reach on its samples, and a trained model can be held against it;
- :func:`sentiment_task` generates labelled sentences from a small grammar (``the movie was not
  very good``) whose label needs the words in context: the adjective's polarity, flipped by
  ``not``. It comes tokenised at the word level with BERT's special tokens.

Everything is deterministic given its ``seed``.
"""

from __future__ import annotations

import bz2
import functools
import itertools
import re
from dataclasses import dataclass

import numpy as np
import torch

WIKI_FILE = "enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2"


# -- Wikipedia -----------------------------------------------------------------------------------
def _clean_article(markup: str) -> list[str]:
    """Paragraphs of plain ASCII prose from one article's wiki markup."""
    from gensim.corpora.wikicorpus import filter_wiki

    text = filter_wiki(markup)
    text = re.sub(r"'{2,}", "", text)  # bold and italics
    paragraphs = []
    for para in text.split("\n"):
        para = para.strip()
        if para.startswith(("=", "*", "#", "|", "!", "{", ":", ";")):
            continue  # headings, lists, tables
        para = para.encode("ascii", "ignore").decode()
        para = re.sub(r"\(\s*[,;]?\s*\)", "", para)  # brackets emptied by the markup filter
        para = re.sub(r"\s+", " ", para).strip()
        para = re.sub(r" ([,.;:])", r"\1", para)
        if len(para) >= 200 and para.count(" ") >= 30:
            paragraphs.append(para)
    return paragraphs


@functools.lru_cache(maxsize=4)
def wikipedia_text(max_chars: int = 1_000_000) -> str:
    """Plain-text prose from the Wikipedia sample in gensim's test data, at most ``max_chars``.

    Articles in dump order (redirects and non-article pages skipped), markup removed with
    gensim's ``filter_wiki``, headings, lists and tables dropped, non-ASCII characters removed,
    whitespace collapsed; paragraphs of at least 200 characters, joined by ``"\\n"``. The whole
    sample gives about 2.4 million characters over 96 distinct printable characters plus newline.
    Parsing takes a few seconds; the result is cached per process.
    """
    from gensim.corpora.wikicorpus import extract_pages
    from gensim.test.utils import datapath

    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    out: list[str] = []
    total = 0
    with bz2.BZ2File(datapath(WIKI_FILE)) as f:
        for title, markup, _ in extract_pages(f):
            if ":" in title or markup.lstrip().upper().startswith("#REDIRECT"):
                continue
            for para in _clean_article(markup):
                out.append(para)
                total += len(para) + 1
            if total >= max_chars:
                break
    return "\n".join(out)[:max_chars]


# -- Markov source ------------------------------------------------------------------------------
class MarkovSource:
    r"""A random order-``order`` Markov chain over ``num_symbols`` symbols ``0..K-1``.

    Each context (the previous ``order`` symbols) has its own next-symbol distribution, drawn
    once from a symmetric Dirichlet(``concentration``) with ``seed``; a small concentration gives
    peaked, predictable distributions. The chain on contexts is ergodic (every probability is
    positive), so it has a unique stationary distribution $\pi$ and the entropy rate

    $$H = -\sum_c \pi(c) \sum_x P(x \mid c) \log P(x \mid c) \quad\text{nats per symbol}$$

    is the exact lower bound of any model's mean cross-entropy on long samples (its perplexity
    bound is $e^H$). :meth:`sample` starts from the stationary distribution.
    """

    def __init__(self, num_symbols: int = 16, order: int = 2, concentration: float = 0.3,
                 seed: int = 0):
        if num_symbols < 2 or order < 1 or concentration <= 0:
            raise ValueError(f"need num_symbols >= 2, order >= 1, concentration > 0; got "
                             f"{num_symbols}, {order}, {concentration}")
        self.num_symbols, self.order = num_symbols, order
        rng = np.random.default_rng(seed)
        n_ctx = num_symbols ** order
        probs = rng.dirichlet(np.full(num_symbols, concentration), size=n_ctx)
        probs = np.maximum(probs, 1e-6)  # keep the chain ergodic
        self.probs = probs / probs.sum(axis=1, keepdims=True)  # (K^order, K)
        self.stationary = self._stationary()  # (K^order,)
        self.entropy_rate = float(self._entropy_rate())

    def _next_context(self, ctx: np.ndarray, x: np.ndarray) -> np.ndarray:
        return (ctx * self.num_symbols + x) % (self.num_symbols ** self.order)

    def _stationary(self) -> np.ndarray:
        n_ctx, K = self.probs.shape
        ctx = np.repeat(np.arange(n_ctx), K)
        nxt = self._next_context(ctx, np.tile(np.arange(K), n_ctx))
        pi = np.full(n_ctx, 1.0 / n_ctx)
        for _ in range(10_000):
            new = np.bincount(nxt, weights=pi[ctx] * self.probs.reshape(-1), minlength=n_ctx)
            if np.abs(new - pi).sum() < 1e-14:
                break
            pi = new
        return new / new.sum()

    def _entropy_rate(self) -> float:
        h = -(self.probs * np.log(self.probs)).sum(axis=1)  # (K^order,)
        return float(self.stationary @ h)

    @property
    def perplexity_bound(self) -> float:
        """exp(entropy_rate): the lowest perplexity a model can reach on long samples."""
        return float(np.exp(self.entropy_rate))

    def sample(self, n: int, seed: int = 0) -> torch.Tensor:
        """``n`` symbols of the chain as an int64 tensor of shape (n,), deterministic in seed."""
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        rng = np.random.default_rng(seed)
        cdf = np.cumsum(self.probs, axis=1)
        cdf[:, -1] = 1.0
        ctx = int(rng.choice(len(self.stationary), p=self.stationary))
        u = rng.random(n)
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            x = int(np.searchsorted(cdf[ctx], u[i], side="right"))
            out[i] = x
            ctx = (ctx * self.num_symbols + x) % len(self.stationary)
        return torch.from_numpy(out)


# -- Sentence classification ---------------------------------------------------------------------
SPECIAL_TOKENS = ("[PAD]", "[CLS]", "[SEP]", "[MASK]")
DETERMINERS = ("the", "this", "that")
NOUNS = ("movie", "film", "plot", "acting", "ending", "music", "story", "cast", "script", "book")
INTENSIFIERS = ("very", "really", "quite", "truly", "rather")
POSITIVE = ("good", "great", "brilliant", "wonderful", "superb", "fun", "moving", "clever")
NEGATIVE = ("bad", "awful", "boring", "dull", "weak", "terrible", "silly", "bland")
TAILS = ("overall", "today", "for me", "in the end", "again")
VERBS = ("was", "is", "seemed")


def sentiment_vocab() -> list[str]:
    """The task's vocabulary: the four special tokens (ids 0..3), then the words, sorted."""
    words = set(itertools.chain(DETERMINERS, NOUNS, INTENSIFIERS, POSITIVE, NEGATIVE, VERBS,
                                ["not"], *(t.split() for t in TAILS)))
    return list(SPECIAL_TOKENS) + sorted(words)


@dataclass(frozen=True)
class SentimentTask:
    """Labelled sentences, word-tokenised for BERT.

    ids: (N, max_len) int64, ``[CLS] w_1 ... w_n [SEP] [PAD] ...``; labels: (N,) int64, 1 for a
    positive sentence; sentences: the N strings; vocab: id -> word; special ids pad_id = 0,
    cls_id = 1, sep_id = 2, mask_id = 3.
    """

    ids: torch.Tensor
    labels: torch.Tensor
    sentences: list[str]
    vocab: list[str]
    pad_id: int = 0
    cls_id: int = 1
    sep_id: int = 2
    mask_id: int = 3

    @property
    def special_ids(self) -> list[int]:
        return [self.pad_id, self.cls_id, self.sep_id, self.mask_id]


def sentiment_task(n: int, seed: int = 0, max_len: int = 14) -> SentimentTask:
    """``n`` sentences ``DET NOUN VERB [not] [INTENSIFIER] ADJ [TAIL]`` with their sentiment.

    Each optional part appears with probability 1/2, every choice uniform. The label is 1 when
    the adjective is positive and there is no ``not``, or it is negative and there is a ``not``
    (so a bag of words cannot solve it: the label is the XOR of two words' presence).
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    vocab = sentiment_vocab()
    index = {w: i for i, w in enumerate(vocab)}
    ids = torch.zeros(n, max_len, dtype=torch.int64)
    labels = torch.zeros(n, dtype=torch.int64)
    sentences = []

    def pick(options: tuple[str, ...]) -> str:
        return options[int(rng.integers(len(options)))]

    for i in range(n):
        positive = bool(rng.integers(2))
        negated = bool(rng.integers(2))
        words = [pick(DETERMINERS), pick(NOUNS), pick(VERBS)]
        if negated:
            words.append("not")
        if rng.integers(2):
            words.append(pick(INTENSIFIERS))
        words.append(pick(POSITIVE if positive else NEGATIVE))
        if rng.integers(2):
            words.extend(pick(TAILS).split())
        sentences.append(" ".join(words))
        row = [index["[CLS]"]] + [index[w] for w in words] + [index["[SEP]"]]
        ids[i, :len(row)] = torch.tensor(row)
        labels[i] = int(positive != negated)
    return SentimentTask(ids=ids, labels=labels, sentences=sentences, vocab=vocab)
