"""Tokenizers written from scratch: one id per character, and byte-level BPE.

Both map a string to a list of integer ids and back. Special tokens (``"<|endoftext|>"``,
``"[MASK]"``, ...) are whole units: ``encode`` never splits them and they get ids of their own.
"""

from __future__ import annotations

import re
from collections import Counter  # noqa: F401 (used in the solution)

# GPT-2 style pre-tokenisation (ASCII classes): a word with its leading space, a number, a run
# of other symbols, or whitespace. BPE merges never cross these chunk boundaries.
PRETOKENIZE = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def check_special_tokens(special_tokens: list[str] | tuple[str, ...]) -> list[str]:
    """The special tokens as a list; ValueError for an empty or repeated one (given)."""
    tokens = list(special_tokens)
    if any(not isinstance(t, str) or t == "" for t in tokens) or len(set(tokens)) != len(tokens):
        raise ValueError(f"special tokens must be distinct non-empty strings, got {tokens!r}")
    return tokens


def split_special(text: str, special_tokens: list[str]) -> list[str]:
    """``text`` cut around every occurrence of a special token, the tokens kept (given).

    ``split_special("a<s>b", ["<s>"]) == ["a", "<s>", "b"]``; empty pieces are dropped and the
    longest special token wins where two overlap.
    """
    if not special_tokens:
        return [text] if text else []
    pattern = "(" + "|".join(re.escape(t) for t in sorted(special_tokens, key=len,
                                                          reverse=True)) + ")"
    return [piece for piece in re.split(pattern, text) if piece]


class CharTokenizer:
    """One id per character: the special tokens first (ids 0..S-1), then the distinct
    characters of ``text`` in sorted (code point) order (ids S..S+C-1).

    Attributes: ``vocab`` (list[str], id -> token), ``vocab_size`` (int) and ``special_tokens``
    (dict token -> id).
    Raises ValueError if ``text`` is empty or a special token is empty or repeated.
    """

    def __init__(self, text: str, special_tokens: list[str] | tuple[str, ...] = ()):
        raise NotImplementedError("TODO: specials, then sorted(set(text)); lookup tables")

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens as one id each, every other character its own.

        Raises ValueError if ``text`` is empty or holds a character outside the vocabulary.
        """
        raise NotImplementedError("TODO: split_special, then look each character up")

    def decode(self, ids: list[int]) -> str:
        """The string of ``ids`` (special tokens written out). ValueError for an unknown id."""
        raise NotImplementedError("TODO: look every id up and join")

    def special_id(self, token: str) -> int:
        """The id of a special token; ValueError if ``token`` is not one."""
        raise NotImplementedError("TODO: look the token up among the special tokens")


def count_pairs(words: dict[tuple[int, ...], int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair of ids occurs over the words (a word of n ids has n - 1
    adjacent pairs), each word weighted by its count. Returns a plain dict pair -> count."""
    raise NotImplementedError("TODO: for every word, add its count to each adjacent pair")


def merge_pair(ids: tuple[int, ...] | list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, scanned left to right,
    replaced by ``new_id``: ``merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]``."""
    raise NotImplementedError("TODO: scan left to right, merging and skipping the pair")


class BPETokenizer:
    """Byte-level BPE: ids 0..255 are the bytes, id 256 + r is the r-th merge, and the special
    tokens follow the merges (ids 256 + len(merges) + s, in the order given).

    ``merges``: list of pairs ``(a, b)`` of ids, in the order they were learned. Build one with
    :func:`train_bpe`; the constructor takes the learned merges as they are.
    """

    def __init__(self, merges: list[tuple[int, int]],
                 special_tokens: list[str] | tuple[str, ...] = ()):
        self.merges = [(int(a), int(b)) for a, b in merges]
        specials = check_special_tokens(special_tokens)
        first = 256 + len(self.merges)
        self.special_tokens = {t: first + i for i, t in enumerate(specials)}
        self.ranks = {pair: r for r, pair in enumerate(self.merges)}
        self.token_bytes = [bytes([b]) for b in range(256)]
        for a, b in self.merges:
            self.token_bytes.append(self.token_bytes[a] + self.token_bytes[b])
        self.cache: dict[str, list[int]] = {}

    @property
    def vocab_size(self) -> int:
        return 256 + len(self.merges) + len(self.special_tokens)

    def encode_chunk(self, chunk: str) -> list[int]:
        """The ids of one pre-tokenised chunk: its UTF-8 bytes, then the learned merges applied
        greedily, each time the adjacent pair of lowest merge rank (the earliest learned), until
        no adjacent pair is a learned merge."""
        raise NotImplementedError("TODO: bytes, then repeatedly merge the pair of lowest rank")

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens as their own id, every other piece cut into chunks
        by ``PRETOKENIZE.findall`` and each chunk encoded by :meth:`encode_chunk`.

        Raises ValueError if ``text`` is empty.
        """
        raise NotImplementedError("TODO: split_special, PRETOKENIZE, encode_chunk")

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``: the bytes of every id concatenated, then decoded as UTF-8 (invalid
        sequences become U+FFFD); special ids give their token's text. ValueError for an id
        outside [0, vocab_size)."""
        raise NotImplementedError("TODO: concatenate the bytes of each id, decode as UTF-8")

    def special_id(self, token: str) -> int:
        """The id of a special token; ValueError if ``token`` is not one."""
        raise NotImplementedError("TODO: look the token up among the special tokens")


def train_bpe(text: str, vocab_size: int,
              special_tokens: list[str] | tuple[str, ...] = ()) -> BPETokenizer:
    """Learn byte-level BPE merges from ``text`` up to ``vocab_size`` ids in all.

    Remove the special tokens from ``text`` (:func:`split_special`), cut the rest into chunks
    with ``PRETOKENIZE.findall`` and count each distinct chunk's UTF-8 bytes as a word. Then learn
    ``vocab_size - 256 - len(special_tokens)`` merges, one at a time: the adjacent pair with the
    highest count (:func:`count_pairs`), ties broken by the smallest pair (compare ``a``, then
    ``b``), becomes id ``256 + r`` and is merged in every word (:func:`merge_pair`). Stop early
    when no word has two ids left.

    Raises ValueError if ``text`` is empty or ``vocab_size < 256 + len(special_tokens)``.
    """
    raise NotImplementedError("TODO: count the words, then merge the top pair repeatedly")
