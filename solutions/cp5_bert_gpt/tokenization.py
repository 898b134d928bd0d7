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
        # BEGIN SOLUTION: specials, then sorted(set(text)); lookup tables
        specials = check_special_tokens(special_tokens)
        if not text:
            raise ValueError("CharTokenizer needs a non-empty text to take its characters from")
        self.vocab = specials + sorted(set(text))
        self.special_tokens = {t: i for i, t in enumerate(specials)}
        self.index = {c: i for i, c in enumerate(self.vocab) if i >= len(specials)}
        # END SOLUTION

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens as one id each, every other character its own.

        Raises ValueError if ``text`` is empty or holds a character outside the vocabulary.
        """
        # BEGIN SOLUTION: split_special, then look each character up
        if not text:
            raise ValueError("cannot encode an empty string")
        ids = []
        for piece in split_special(text, list(self.special_tokens)):
            if piece in self.special_tokens:
                ids.append(self.special_tokens[piece])
                continue
            for ch in piece:
                if ch not in self.index:
                    raise ValueError(f"character {ch!r} is not in the vocabulary")
                ids.append(self.index[ch])
        return ids
        # END SOLUTION

    def decode(self, ids: list[int]) -> str:
        """The string of ``ids`` (special tokens written out). ValueError for an unknown id."""
        # BEGIN SOLUTION: look every id up and join
        ids = [int(i) for i in ids]
        bad = [i for i in ids if not 0 <= i < len(self.vocab)]
        if bad:
            raise ValueError(f"ids {bad[:5]} are outside [0, {len(self.vocab)})")
        return "".join(self.vocab[i] for i in ids)
        # END SOLUTION

    def special_id(self, token: str) -> int:
        """The id of a special token; ValueError if ``token`` is not one."""
        # BEGIN SOLUTION: look the token up among the special tokens
        if token not in self.special_tokens:
            raise ValueError(f"unknown special token {token!r}; "
                             f"known: {sorted(self.special_tokens)}")
        return self.special_tokens[token]
        # END SOLUTION


def count_pairs(words: dict[tuple[int, ...], int]) -> dict[tuple[int, int], int]:
    """How often each adjacent pair of ids occurs over the words (a word of n ids has n - 1
    adjacent pairs), each word weighted by its count. Returns a plain dict pair -> count."""
    # BEGIN SOLUTION: for every word, add its count to each adjacent pair
    pairs: Counter[tuple[int, int]] = Counter()
    for word, count in words.items():
        for pair in zip(word[:-1], word[1:], strict=True):
            pairs[pair] += count
    return dict(pairs)
    # END SOLUTION


def merge_pair(ids: tuple[int, ...] | list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, scanned left to right,
    replaced by ``new_id``: ``merge_pair([1, 1, 1], (1, 1), 9) == [9, 1]``."""
    # BEGIN SOLUTION: scan left to right, merging and skipping the pair
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    # END SOLUTION


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
        # BEGIN SOLUTION: bytes, then repeatedly merge the pair of lowest rank
        ids = list(chunk.encode("utf-8"))
        while len(ids) > 1:
            pair = min(zip(ids[:-1], ids[1:], strict=True),
                       key=lambda p: self.ranks.get(p, len(self.ranks)))
            if pair not in self.ranks:
                break
            ids = merge_pair(ids, pair, 256 + self.ranks[pair])
        return ids
        # END SOLUTION

    def encode(self, text: str) -> list[int]:
        """The ids of ``text``: special tokens as their own id, every other piece cut into chunks
        by ``PRETOKENIZE.findall`` and each chunk encoded by :meth:`encode_chunk`.

        Raises ValueError if ``text`` is empty.
        """
        # BEGIN SOLUTION: split_special, PRETOKENIZE, encode_chunk
        if not text:
            raise ValueError("cannot encode an empty string")
        ids: list[int] = []
        for piece in split_special(text, list(self.special_tokens)):
            if piece in self.special_tokens:
                ids.append(self.special_tokens[piece])
                continue
            for chunk in PRETOKENIZE.findall(piece):
                if chunk not in self.cache:
                    self.cache[chunk] = self.encode_chunk(chunk)
                ids.extend(self.cache[chunk])
        return ids
        # END SOLUTION

    def decode(self, ids: list[int]) -> str:
        """The text of ``ids``: the bytes of every id concatenated, then decoded as UTF-8 (invalid
        sequences become U+FFFD); special ids give their token's text. ValueError for an id
        outside [0, vocab_size)."""
        # BEGIN SOLUTION: concatenate the bytes of each id, decode as UTF-8
        specials = {i: t for t, i in self.special_tokens.items()}
        out = bytearray()
        for i in ids:
            i = int(i)
            if i in specials:
                out += specials[i].encode("utf-8")
            elif 0 <= i < len(self.token_bytes):
                out += self.token_bytes[i]
            else:
                raise ValueError(f"id {i} is outside [0, {self.vocab_size})")
        return out.decode("utf-8", errors="replace")
        # END SOLUTION

    def special_id(self, token: str) -> int:
        """The id of a special token; ValueError if ``token`` is not one."""
        # BEGIN SOLUTION: look the token up among the special tokens
        if token not in self.special_tokens:
            raise ValueError(f"unknown special token {token!r}; "
                             f"known: {sorted(self.special_tokens)}")
        return self.special_tokens[token]
        # END SOLUTION


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
    # BEGIN SOLUTION: count the words, then merge the top pair repeatedly
    specials = check_special_tokens(special_tokens)
    if not text:
        raise ValueError("cannot train BPE on an empty text")
    n_merges = vocab_size - 256 - len(specials)
    if n_merges < 0:
        raise ValueError(f"vocab_size {vocab_size} < 256 bytes + {len(specials)} special tokens")
    chunks: Counter[str] = Counter()
    for piece in split_special(text, specials):
        if piece not in specials:
            chunks.update(PRETOKENIZE.findall(piece))
    words = {tuple(chunk.encode("utf-8")): count for chunk, count in chunks.items()}
    merges: list[tuple[int, int]] = []
    for r in range(n_merges):
        pairs = count_pairs(words)
        if not pairs:
            break
        pair = min(pairs, key=lambda p: (-pairs[p], p))  # most frequent, then smallest
        merges.append(pair)
        words = {tuple(merge_pair(w, pair, 256 + r)): c for w, c in words.items()}
    return BPETokenizer(merges, specials)
    # END SOLUTION
