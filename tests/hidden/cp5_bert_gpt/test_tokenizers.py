"""Hidden tests: the character tokenizer and byte-level BPE (learned merges, encoding, round
trips on random Unicode, special tokens, bad input)."""

import pytest
import torch

from autograder.grading import checks
from autograder.support import corpora

SPECIALS = ["<|endoftext|>", "<|pad|>"]


def wiki_slice(seed, n_chars):
    """``n_chars`` of Wikipedia prose starting at a seed-dependent offset."""
    text = corpora.wikipedia_text(200_000)
    start = seed % (len(text) - n_chars)
    return text[start:start + n_chars]


def random_unicode(rng, n):
    """A random string of ``n`` code points from ASCII, Latin-1, Greek, CJK and emoji ranges."""
    ranges = [(32, 127), (160, 256), (0x391, 0x3C9), (0x4E00, 0x4E40), (0x1F600, 0x1F640)]
    which = torch.randint(0, len(ranges), (n,), generator=rng).tolist()
    u = torch.rand(n, generator=rng).tolist()
    return "".join(chr(lo + int(x * (hi - lo))) for (lo, hi), x in
                   zip((ranges[w] for w in which), u, strict=True))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("The vocabulary is the special tokens first, then the distinct characters in "
                  "sorted order; encode maps each character to its index.")
def test_char_tokenizer_matches_reference(submission, reference, seed):
    text = wiki_slice(seed, 3000)
    tok, ref = submission.CharTokenizer(text, SPECIALS), reference.CharTokenizer(text, SPECIALS)
    checks.expect(tok.vocab_size == ref.vocab_size, "value",
                  f"vocab_size {tok.vocab_size}, expected the specials plus the distinct chars")
    sample = text[100:400] + "<|endoftext|>" + text[:50]
    ids = tok.encode(sample)
    checks.assert_close(torch.tensor(ids), torch.tensor(ref.encode(sample)), atol=0, rtol=0,
                        what="CharTokenizer.encode")
    checks.expect(tok.decode(ids) == sample, "value", "decode(encode(s)) != s")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["empty-string", "unknown-character", "unknown-special"])
@pytest.mark.hint("CharTokenizer.encode must raise ValueError for an empty string or a character "
                  "outside the vocabulary, and special_id for a token that is not special.")
def test_char_tokenizer_rejects_bad_input(submission, case):
    tok = submission.CharTokenizer("hello world", ["<s>"])
    if case == "empty-string":
        checks.assert_raises(ValueError, tok.encode, "")
    elif case == "unknown-character":
        checks.assert_raises(ValueError, tok.encode, "hello?")
    else:
        checks.assert_raises(ValueError, tok.special_id, "</s>")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("count_pairs adds each word's count to every adjacent pair; merge_pair scans "
                  "left to right and never merges overlapping occurrences.")
def test_count_pairs_and_merge_pair(submission, reference, rng):
    words = {tuple(torch.randint(0, 4, (int(n),), generator=rng).tolist()): int(c)
             for n, c in zip(torch.randint(1, 8, (12,), generator=rng),
                             torch.randint(1, 9, (12,), generator=rng), strict=True)}
    got, expected = submission.count_pairs(words), reference.count_pairs(words)
    checks.expect(dict(got) == dict(expected), "value", "count_pairs gives wrong counts")
    for ids in ([1, 1, 1], [1, 1, 1, 1, 2, 1, 1], [2, 1, 2, 1, 1]):
        checks.expect(submission.merge_pair(ids, (1, 1), 9) == reference.merge_pair(
            ids, (1, 1), 9), "value", "merge_pair gives a wrong sequence")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("Each merge is the most frequent adjacent pair over all words (weighted by "
                  "their counts), ties to the smallest pair; new ids start at 256; chunks come "
                  "from PRETOKENIZE and special tokens are removed before counting.")
def test_bpe_merges_match_reference(submission, reference, seed):
    text = wiki_slice(seed, 6000) + "<|endoftext|>" + wiki_slice(seed + 1, 2000)
    tok = submission.train_bpe(text, 256 + 60 + len(SPECIALS), SPECIALS)
    ref = reference.train_bpe(text, 256 + 60 + len(SPECIALS), SPECIALS)
    got = [tuple(m) for m in tok.merges]
    checks.expect(len(got) == len(ref.merges), "value",
                  f"learned {len(got)} merges, expected {len(ref.merges)}")
    first_bad = next((i for i, (a, b) in enumerate(zip(got, ref.merges, strict=True)) if a != b),
                     None)
    checks.expect(first_bad is None, "value", f"merge number {first_bad} differs")
    checks.expect(tok.vocab_size == ref.vocab_size, "value", "wrong vocab_size")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("encode applies the learned merges in rank order inside each PRETOKENIZE "
                  "chunk: repeatedly merge the adjacent pair that was learned first.")
def test_bpe_encode_matches_reference(submission, reference, seed):
    ref = reference.train_bpe(wiki_slice(seed, 5000), 256 + 50 + 1, SPECIALS[:1])
    tok = submission.BPETokenizer(ref.merges, SPECIALS[:1])
    sample = wiki_slice(seed + 7, 800) + "<|endoftext|>" + wiki_slice(seed + 9, 200)
    checks.assert_close(torch.tensor(tok.encode(sample)), torch.tensor(ref.encode(sample)),
                        atol=0, rtol=0, what="BPETokenizer.encode")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Work on UTF-8 bytes (text.encode('utf-8')), not on characters, and decode the "
                  "concatenated bytes once at the end: multi-byte characters may be split across "
                  "tokens.")
def test_bpe_round_trip_random_unicode(submission, reference, seed, rng):
    text = wiki_slice(seed, 3000) + random_unicode(rng, 400)
    tok = submission.train_bpe(text, 256 + 40, [])
    for _ in range(5):
        s = random_unicode(rng, 60) + " the " + wiki_slice(int(torch.randint(0, 10**6, (1,),
                                                                             generator=rng)), 40)
        ids = tok.encode(s)
        checks.expect(all(0 <= i < tok.vocab_size for i in ids), "value", "ids out of range")
        checks.expect(tok.decode(ids) == s, "invariant", "decode(encode(s)) != s")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Split the text around special tokens before pre-tokenising: each special "
                  "token is one id (after the merges), never split into bytes, and never merged "
                  "with its neighbours; it must not take part in training either.")
def test_bpe_special_tokens_intact(submission, seed):
    text = wiki_slice(seed, 3000).replace(". ", ". <|endoftext|>")
    tok = submission.train_bpe(text, 256 + 30 + len(SPECIALS), SPECIALS)
    end, pad = tok.special_id("<|endoftext|>"), tok.special_id("<|pad|>")
    checks.expect((end, pad) == (256 + len(tok.merges), 257 + len(tok.merges)), "value",
                  "special ids must follow the merges, in the order given")
    s = "<|pad|>a<|endoftext|><|endoftext|>b c<|endoftext|>"
    ids = tok.encode(s)
    checks.expect(ids.count(end) == 3 and ids.count(pad) == 1 and ids[0] == pad
                  and ids[-1] == end, "invariant", "special tokens were split or lost")
    checks.expect(tok.decode(ids) == s, "invariant", "decode(encode(s)) != s with specials")
    without = tok.encode("a<|endoftext|>".replace("<|endoftext|>", " x"))
    checks.expect(end not in without, "invariant", "a special id appeared for plain text")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["empty-string", "unknown-special", "vocab-too-small",
                                  "empty-corpus"])
@pytest.mark.hint("BPE: encode('') and special_id of a token that is not special raise "
                  "ValueError; train_bpe raises ValueError for an empty text or a vocab_size "
                  "below 256 + the number of special tokens.")
def test_bpe_rejects_bad_input(submission, case):
    if case == "empty-string":
        checks.assert_raises(ValueError, submission.train_bpe("abc abc", 260).encode, "")
    elif case == "unknown-special":
        tok = submission.train_bpe("abc abc", 260, ["<s>"])
        checks.assert_raises(ValueError, tok.special_id, "<unk>")
    elif case == "vocab-too-small":
        checks.assert_raises(ValueError, submission.train_bpe, "abc abc", 256, ["<s>"])
    else:
        checks.assert_raises(ValueError, submission.train_bpe, "", 300)
