"""Hidden tests: tokenizer, vocabulary and bag-of-words vectoriser."""

import numpy as np
import pytest

from autograder.grading import checks

ALPHABET = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéÉüßж") + list(
    "0123456789") + [" ", " ", " ", "'", "-", "_", ".", ",", "!", "\n", "\t"]
FIXED = ["It's 4 U, isn't it?", "Café au LAIT -- naïve_bayes 2x faster!!", "", "   ...   ",
         "HELLO hello HeLLo", "snake_case and CamelCase", "x1y2z3", "Ünïcödé wörds ЖУК"]


def random_texts(np_rng, n=12, max_len=60):
    return ["".join(np_rng.choice(ALPHABET, size=int(np_rng.integers(0, max_len))))
            for _ in range(n)]


def random_token_docs(np_rng, n_docs=40, n_words=30):
    """Token lists over a Zipf-like vocabulary, so counts (and ties) vary; some docs empty."""
    words = [f"w{chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(n_words)]
    p = 1.0 / np.arange(1, n_words + 1)
    p = np_rng.permutation(p / p.sum())
    docs = [list(np_rng.choice(words, size=int(np_rng.integers(0, 15)), p=p))
            for _ in range(n_docs)]
    docs[int(np_rng.integers(n_docs))] = []
    return [[str(t) for t in d] for d in docs]


def assert_same_list(got, expected, what):
    checks.expect(isinstance(got, list) and got == expected, "value",
                  f"{what} differs from the expected list")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Lower-case first, then take the maximal runs of letters: digits, '_', the "
                  "apostrophe and every other non-letter separate tokens; accented and "
                  "non-Latin letters are letters.")
def test_tokenize_values(submission, reference, np_rng):
    for text in FIXED + random_texts(np_rng):
        assert_same_list(submission.tokenize(text), reference.tokenize(text),
                         f"tokenize({text!r})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Stop words are removed after lower-casing; other tokens keep their order.")
def test_tokenize_stop_words(submission, reference, np_rng):
    stop = ["the", "a", "it", "wa", "is"]
    texts = ["The cat is on THE mat, and it IS happy", *random_texts(np_rng, n=5)]
    for text in texts:
        assert_same_list(submission.tokenize(text, stop_words=stop),
                         reference.tokenize(text, stop_words=stop),
                         f"tokenize(..., stop_words) of {text!r}")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("itos[0] is '<unk>'; then the tokens with count >= min_freq, most frequent "
                  "first, equal counts alphabetically; max_size keeps only the first max_size of "
                  "them; stoi is the inverse of itos.")
def test_vocabulary_values(submission, reference, np_rng):
    docs = random_token_docs(np_rng)
    for min_freq, max_size in ((1, None), (2, None), (3, None), (1, 7), (2, 1)):
        got = submission.Vocabulary(docs, min_freq=min_freq, max_size=max_size)
        expected = reference.Vocabulary(docs, min_freq=min_freq, max_size=max_size)
        what = f"Vocabulary(min_freq={min_freq}, max_size={max_size})"
        assert_same_list(got.itos, expected.itos, f"{what}.itos")
        checks.expect(got.stoi == expected.stoi, "value", f"{what}.stoi is not the inverse")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("index(token) is 0 for a token the vocabulary does not know; token(i) is "
                  "itos[i]; encode maps a list of tokens to their indices.")
def test_vocabulary_lookup(submission, reference, np_rng):
    docs = random_token_docs(np_rng)
    got, expected = submission.Vocabulary(docs, min_freq=2), reference.Vocabulary(docs, min_freq=2)
    probe = [*expected.itos[1:4], "never-seen", "<unk>", expected.itos[-1]]
    checks.expect(got.encode(probe) == expected.encode(probe), "value", "encode differs")
    checks.expect(got.index("never-seen") == 0, "value", "an unknown token is not mapped to 0")
    checks.expect(got.size() == len(expected.itos), "value", "size() differs")
    checks.expect(all(got.token(i) == expected.itos[i] for i in (0, 1, len(expected.itos) - 1)),
                  "value", "token(i) differs from itos[i]")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("X[i, j] counts token j in document i; unknown tokens count in column 0; an "
                  "empty document is a row of zeros; binary=True clips the counts at 1; "
                  "float64, shape (n, len(vocab)).")
def test_bag_of_words_values(submission, reference, np_rng):
    train, test = random_token_docs(np_rng), random_token_docs(np_rng, n_docs=15, n_words=40)
    vocab, ref_vocab = submission.Vocabulary(train, min_freq=2), reference.Vocabulary(train, 2)
    for docs in (train, test + [[]]):
        for binary in (False, True):
            expected = reference.bag_of_words(docs, ref_vocab, binary=binary)
            checks.assert_close(submission.bag_of_words(docs, vocab, binary=binary), expected,
                                atol=0, rtol=0, what=f"bag_of_words(binary={binary})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("sparse=True returns a scipy.sparse CSR matrix holding exactly the values of "
                  "the dense matrix.")
def test_bag_of_words_sparse(submission, reference, np_rng):
    docs = random_token_docs(np_rng)
    vocab, ref_vocab = submission.Vocabulary(docs), reference.Vocabulary(docs)
    for binary in (False, True):
        got = submission.bag_of_words(docs, vocab, binary=binary, sparse=True)
        checks.expect(not isinstance(got, np.ndarray) and hasattr(got, "toarray"), "dtype",
                      "bag_of_words(sparse=True) did not return a scipy.sparse matrix")
        checks.assert_close(got.toarray(), reference.bag_of_words(docs, ref_vocab, binary=binary),
                            atol=0, rtol=0, what=f"bag_of_words(sparse=True, binary={binary})")


BAD_VOCAB = {
    "all-documents-empty": ([[], [], []], {}),
    "no-token-reaches-min-freq": ([["a", "b"], ["c"]], {"min_freq": 2}),
    "min-freq-zero": ([["a", "b"]], {"min_freq": 0}),
    "max-size-zero": ([["a", "b"]], {"max_size": 0}),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_VOCAB))
@pytest.mark.hint("Vocabulary raises ValueError for min_freq < 1, max_size < 1, and when no "
                  "token is left (empty documents or only rare words): an empty vocabulary "
                  "would give a classifier without features.")
def test_vocabulary_rejects_bad_input(submission, case):
    docs, kwargs = BAD_VOCAB[case]
    checks.assert_raises(ValueError, submission.Vocabulary, docs, **kwargs)


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("token(i) raises ValueError for an index outside [0, len(vocab)).")
def test_vocabulary_token_out_of_range(submission):
    vocab = submission.Vocabulary([["a", "b", "b"]])
    checks.assert_raises(ValueError, vocab.token, 3)
    checks.assert_raises(ValueError, vocab.token, -1)
