"""Hidden tests: MiniBERT (values, gradients, padding), the masked-LM collator (proportions
checked by the trusted side over many draws) and MLM accuracy."""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

TOL = {"atol": 2e-5, "rtol": 1e-4}
BERT = {"vocab_size": 41, "max_len": 12, "n_layer": 2, "n_head": 2, "n_embd": 32,
        "n_segments": 2, "n_classes": 3}
PAD, CLS, SEP, MASK = 0, 1, 2, 3
SPECIAL = [PAD, CLS, SEP, MASK]


def seeded(seed, build):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def student_bert(submission, reference, seed):
    ref = seeded(seed, lambda: reference.MiniBERT(**BERT))
    model = submission.MiniBERT(**BERT)
    got, expected = model.state_dict(), ref.state_dict()
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"MiniBERT state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    model.load_state_dict(expected)
    return model, ref


def sentences(rng, B=4, T=BERT["max_len"], V=BERT["vocab_size"]):
    """[CLS] w ... [SEP] [PAD] ... rows of random lengths, their segments and mask."""
    ids = torch.randint(4, V, (B, T), generator=rng)
    lengths = torch.randint(3, T + 1, (B,), generator=rng)
    lengths[0] = T
    mask = torch.arange(T)[None, :] < lengths[:, None]
    ids[:, 0] = CLS
    ids[torch.arange(B), lengths - 1] = SEP
    ids[~mask] = PAD
    segments = (torch.arange(T)[None, :] >= (lengths[:, None] // 2)).long() * mask
    return ids, segments, mask


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("emb_ln(token + position + segment embeddings), bidirectional blocks with the "
                  "padding keys masked, ln_f; the MLM head is mlm_ln(gelu(mlm_dense(h))) times "
                  "the token embedding matrix transposed, plus mlm_bias.")
def test_bert_outputs_match_reference(submission, reference, seed, rng):
    model, ref = student_bert(submission, reference, seed)
    ids, segments, mask = sentences(rng)
    for method in ("forward", "mlm_logits", "classify"):
        with torch.no_grad():
            expected = getattr(ref, method)(ids, segments, mask)
        checks.assert_close(getattr(model, method)(ids, segments, mask), expected, **TOL,
                            what=f"MiniBERT.{method}")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("The MLM decoder must use tok_emb.weight itself (tied), so the embedding gets "
                  "gradient from both ends; every other parameter needs its gradient too.")
def test_bert_mlm_gradients_match_reference(submission, reference, seed, rng):
    model, ref = student_bert(submission, reference, seed)
    ids, segments, mask = sentences(rng, B=3)
    g = torch.randn(3, BERT["max_len"], BERT["vocab_size"], generator=rng)
    got = vjp(model.mlm_logits, ids, segments, mask, cotangent=g)
    expected = vjp(ref.mlm_logits, ids, segments, mask, cotangent=g)
    checks.assert_close(got.param_grads, expected.param_grads, atol=1e-5, rtol=1e-4,
                        what="parameter gradient", failure_class="gradient")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Padding keys must be masked out of attention (-inf where attention_mask is "
                  "False), so that the tokens under the padding cannot change the real positions.")
def test_bert_ignores_padding(submission, reference, seed, rng):
    model, _ = student_bert(submission, reference, seed)
    ids, segments, mask = sentences(rng)
    base = model(ids, segments, mask)
    other = ids.clone()
    other[~mask] = torch.randint(4, BERT["vocab_size"], (int((~mask).sum()),), generator=rng)
    out = model(other, segments, mask)
    checks.assert_close(out[mask], base[mask], atol=1e-5, rtol=1e-5, failure_class="invariant",
                        what="hidden states at real tokens after changing the padding")
    changed = ids.clone()
    changed[0, -2] = 4 + (int(ids[0, -2]) - 3) % (BERT["vocab_size"] - 4)
    moved = model(changed, segments, mask)
    checks.expect(not torch.allclose(moved[0, 0], base[0, 0], atol=1e-6), "invariant",
                  "the encoder is not bidirectional: position 0 ignores a later token")


def draw_masks(submission, ids, n_draws):
    corrupted, labels = [], []
    for _ in range(n_draws):
        c, lab = submission.mask_tokens(ids, MASK, BERT["vocab_size"], SPECIAL)
        corrupted.append(c)
        labels.append(lab)
    return torch.stack(corrupted), torch.stack(labels)


def within(count, n, p, what):
    """``count`` successes out of ``n`` are within 5 binomial sigmas of ``n * p``."""
    sigma = (n * p * (1 - p)) ** 0.5
    checks.expect(abs(count - n * p) <= 5 * sigma + 1, "value",
                  f"{what}: the observed fraction is not within binomial tolerance")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("Choose each non-special token with probability 0.15; of the chosen, 80% become "
                  "[MASK], 10% a random non-special token and 10% stay unchanged.")
def test_mask_tokens_proportions(submission, rng):
    ids, _, mask = sentences(rng, B=200, T=BERT["max_len"])
    corrupted, labels = draw_masks(submission, ids, 6)
    normal = ~torch.isin(ids, torch.tensor(SPECIAL)).expand_as(labels)
    original = ids.expand_as(labels)
    chosen = labels != -100
    n_normal, n_chosen = int(normal.sum()), int(chosen.sum())
    within(n_chosen, n_normal, 0.15, "share of chosen tokens")
    n_random_ids = BERT["vocab_size"] - len(SPECIAL)
    masked = chosen & (corrupted == MASK)
    kept = chosen & (corrupted == original)
    replaced = chosen & ~masked & ~kept
    within(int(masked.sum()), n_chosen, 0.8, "share of chosen tokens set to [MASK]")
    within(int(replaced.sum()), n_chosen, 0.1 * (1 - 1 / n_random_ids),
           "share of chosen tokens set to a random token")
    within(int(kept.sum()), n_chosen, 0.1 + 0.1 / n_random_ids,
           "share of chosen tokens left unchanged")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Labels: the original id where a token was chosen, -100 everywhere else. "
                  "Special and padding tokens are never chosen, tokens not chosen are never "
                  "changed, random replacements are never special ids, and input_ids is left "
                  "unchanged.")
def test_mask_tokens_labels_and_specials(submission, rng):
    ids, _, _ = sentences(rng, B=100, T=BERT["max_len"])
    corrupted, labels = draw_masks(submission, ids, 4)
    original = ids.expand_as(labels)
    special = torch.isin(original, torch.tensor(SPECIAL))
    chosen = labels != -100
    checks.expect(not bool((chosen & special).any()), "invariant",
                  "a special or padding token was chosen for masking")
    checks.assert_close(labels[chosen], original[chosen], atol=0, rtol=0,
                        failure_class="invariant", what="labels at chosen positions")
    checks.assert_close(corrupted[~chosen], original[~chosen], atol=0, rtol=0,
                        failure_class="invariant", what="tokens that were not chosen")
    replaced = chosen & (corrupted != MASK)
    checks.expect(not bool(torch.isin(corrupted[replaced], torch.tensor(SPECIAL)).any()),
                  "invariant", "a random replacement is a special id")
    checks.assert_inputs_unchanged(submission.mask_tokens, ids, MASK, BERT["vocab_size"],
                                   SPECIAL)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Accuracy over the labelled positions only (label != -100), as a float.")
def test_mlm_accuracy(submission, reference, rng):
    logits = torch.randn(5, 9, 13, generator=rng)
    labels = torch.randint(0, 13, (5, 9), generator=rng)
    labels[torch.rand(5, 9, generator=rng) < 0.6] = -100
    labels[0, 0] = int(logits[0, 0].argmax())  # at least one hit
    got = submission.mlm_accuracy(logits, labels)
    checks.expect(isinstance(got, float), "dtype", "mlm_accuracy must return a Python float")
    checks.assert_close(torch.tensor(got), torch.tensor(reference.mlm_accuracy(logits, labels)),
                        atol=1e-9, what="mlm_accuracy")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["too-long", "bad-mlm-prob"])
@pytest.mark.hint("MiniBERT raises ValueError for a sequence longer than max_len; mask_tokens "
                  "for mlm_prob outside (0, 1).")
def test_bert_rejects_bad_input(submission, case):
    if case == "too-long":
        model = submission.MiniBERT(**BERT)
        checks.assert_raises(ValueError, model, torch.ones(1, BERT["max_len"] + 1,
                                                           dtype=torch.int64))
    else:
        checks.assert_raises(ValueError, submission.mask_tokens, torch.ones(2, 5,
                                                                            dtype=torch.int64),
                             MASK, BERT["vocab_size"], SPECIAL, 1.5)
