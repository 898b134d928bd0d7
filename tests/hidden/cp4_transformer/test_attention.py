"""Hidden tests: scaled dot-product attention, the masks and multi-head attention.

Attention functions get float64 inputs (tight tolerances); modules are float32 and get the
reference's weights through ``load_state_dict``, so both sides compute the same function.
"""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

TOL64 = {"atol": 1e-10, "rtol": 1e-9}
TOL32 = {"atol": 2e-5, "rtol": 1e-4}
# (batch dims, Lq, Lk, d_k, d_v, mask shape); mask shapes broadcast in different ways
CASES = [((2, 3), 5, 7, 4, 6, (2, 1, 5, 7)), ((4,), 3, 3, 8, 8, (3, 3)),
         ((2, 2), 1, 6, 5, 3, (2, 1, 1, 6)), ((), 6, 4, 2, 5, (6, 4))]


def qkv(rng, batch, lq, lk, dk, dv, dtype=torch.float64):
    q = torch.randn(*batch, lq, dk, generator=rng, dtype=dtype)
    k = torch.randn(*batch, lk, dk, generator=rng, dtype=dtype)
    v = torch.randn(*batch, lk, dv, generator=rng, dtype=dtype)
    return q, k, v


def bool_mask(rng, shape, dead_rows=True):
    """Random True/False keep-mask; with ``dead_rows`` the first query row has no key."""
    mask = torch.rand(shape, generator=rng) < 0.7
    if dead_rows and len(shape) >= 2 and shape[-2] > 1:
        mask[..., 0, :] = False
    return mask


def additive_mask(rng, shape):
    """Float mask: finite biases, some -inf (blocked) entries and a fully blocked first row."""
    mask = torch.randn(shape, generator=rng, dtype=torch.float64)
    mask = mask.masked_fill(torch.rand(shape, generator=rng) < 0.3, float("-inf"))
    if shape[-2] > 1:
        mask[..., 0, :] = float("-inf")
    return mask


def ref_mha(reference, seed, d_model, heads, bias=True):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return reference.MultiHeadAttention(d_model, heads, bias=bias)


def student_mha(submission, ref, d_model, heads, bias=True):
    model = submission.MultiHeadAttention(d_model, heads, bias=bias)
    want = ref.state_dict()
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(want), "shape",
                  f"MultiHeadAttention has parameters {sorted(got)}, expected {sorted(want)}")
    for name, t in want.items():
        checks.assert_shape(got[name], t.shape, what=f"parameter {name!r}")
    model.load_state_dict(want)
    return model


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("softmax(q k^T / sqrt(d_k)) v with the scores of blocked keys (mask False) set "
                  "to -inf before the softmax; the mask broadcasts against (..., Lq, Lk). Return "
                  "the output and the softmax weights.")
def test_attention_values_with_bool_mask(submission, reference, rng):
    for batch, lq, lk, dk, dv, mshape in CASES:
        q, k, v = qkv(rng, batch, lq, lk, dk, dv)
        for mask in (None, bool_mask(rng, mshape)):
            checks.assert_close(submission.scaled_dot_product_attention(q, k, v, mask),
                                reference.scaled_dot_product_attention(q, k, v, mask), **TOL64,
                                what=f"(output, weights) for q {tuple(q.shape)}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("A floating-point mask is added to the scores before the softmax (0 keeps a "
                  "key, -inf blocks it, other values bias it).")
def test_attention_values_with_additive_mask(submission, reference, rng):
    for batch, lq, lk, dk, dv, mshape in CASES:
        q, k, v = qkv(rng, batch, lq, lk, dk, dv)
        mask = additive_mask(rng, mshape)
        checks.assert_close(submission.scaled_dot_product_attention(q, k, v, mask),
                            reference.scaled_dot_product_attention(q, k, v, mask), **TOL64,
                            what="(output, weights) with an additive mask")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("The weights are probabilities over the keys a query may see: zero on blocked "
                  "keys, summing to one over the others; a query with no visible key gets zero "
                  "weights and a zero output, not NaN.")
def test_attention_weights_sum_to_one_and_dead_rows_are_zero(submission, rng):
    for batch, lq, lk, dk, dv, mshape in CASES:
        q, k, v = qkv(rng, batch, lq, lk, dk, dv)
        mask = bool_mask(rng, mshape)
        out, w = submission.scaled_dot_product_attention(q, k, v, mask)
        full = mask.expand(w.shape)
        checks.expect(bool(torch.isfinite(out).all() and torch.isfinite(w).all()), "invariant",
                      "attention returned NaN or Inf")
        checks.expect(bool((w[~full] == 0).all()), "invariant", "blocked keys got weight")
        alive = full.any(dim=-1)  # (..., Lq)
        checks.assert_close(w.sum(dim=-1)[alive], torch.ones(int(alive.sum()), dtype=w.dtype),
                            atol=1e-12, failure_class="invariant", what="weights summed over keys")
        checks.expect(bool((w.sum(dim=-1)[~alive] == 0).all()), "invariant",
                      "a query with every key blocked has non-zero weights")
        checks.expect(bool((out[~alive.expand(out.shape[:-1])] == 0).all()), "invariant",
                      "a query with every key blocked has a non-zero output")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must flow to q, k and v, and stay finite (zero) through queries "
                  "whose keys are all blocked: avoid NaN from softmax over a row of -inf.")
def test_attention_gradient(submission, reference, rng):
    for batch, lq, lk, dk, dv, mshape in CASES[:3]:
        q, k, v = qkv(rng, batch, lq, lk, dk, dv)
        mask = bool_mask(rng, mshape)
        cot = (torch.randn(*batch, lq, dv, generator=rng, dtype=torch.float64),
               torch.randn(*batch, lq, lk, generator=rng, dtype=torch.float64))
        got = vjp(submission.scaled_dot_product_attention, q, k, v, mask, cotangent=cot)
        want = vjp(reference.scaled_dot_product_attention, q, k, v, mask, cotangent=cot)
        checks.assert_grads_close(got, want, atol=1e-9, rtol=1e-8)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Dropout acts on the attention weights before they multiply v: each weight "
                  "is zeroed with probability dropout_p and the kept ones are divided by "
                  "1 - dropout_p. The returned weights are the ones before dropout.")
def test_attention_dropout(submission, reference, rng):
    B, L, p = 400, 6, 0.4
    q, k, _ = qkv(rng, (B,), L, L, 4, L)
    v = torch.eye(L, dtype=torch.float64).expand(B, L, L)  # out = the dropped-out weights
    out, w = submission.scaled_dot_product_attention(q, k, v, None, dropout_p=p)
    _, want = reference.scaled_dot_product_attention(q, k, v, None)
    checks.assert_close(w, want, **TOL64, what="weights returned with dropout")
    kept = out != 0
    checks.assert_close(out[kept], want[kept] / (1 - p), **TOL64,
                        what="kept weights (scaled by 1 / (1 - p))")
    frac = 1 - float(kept.double().mean())
    checks.expect(abs(frac - p) < 0.03, "value", f"dropped fraction {frac:.3f}, expected ~{p}")


BAD_ATTENTION = {
    "mask-lq-mismatch": ((2, 5, 4), (2, 7, 4), (2, 7, 3), (2, 4, 7)),
    "mask-lk-mismatch": ((2, 5, 4), (2, 7, 4), (2, 7, 3), (5, 6)),
    "mask-enlarges-batch": ((2, 5, 4), (2, 7, 4), (2, 7, 3), (3, 2, 5, 7)),
    "dk-mismatch": ((2, 5, 4), (2, 7, 3), (2, 7, 3), None),
    "lk-mismatch": ((2, 5, 4), (2, 7, 4), (2, 6, 3), None),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_ATTENTION))
@pytest.mark.hint("scaled_dot_product_attention raises ValueError when q and k differ in d_k, "
                  "k and v in length, or the mask does not broadcast to (..., Lq, Lk).")
def test_attention_rejects_bad_shapes(submission, case):
    qs, ks, vs, ms = BAD_ATTENTION[case]
    mask = None if ms is None else torch.ones(ms, dtype=torch.bool)
    checks.assert_raises(ValueError, submission.scaled_dot_product_attention,
                         torch.zeros(qs), torch.zeros(ks), torch.zeros(vs), mask)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("padding_mask is True at real tokens, shaped (B, 1, 1, L); causal_mask is "
                  "True on and below the diagonal (query i sees keys 0..i).")
def test_padding_and_causal_masks(submission, reference, rng):
    tokens = torch.randint(0, 5, (4, 9), generator=rng)
    for pad in (0, 3):
        got = submission.padding_mask(tokens, pad)
        checks.assert_close(got, reference.padding_mask(tokens, pad),
                            what=f"padding_mask pad={pad}")
    for n in (1, 5, 8):
        checks.assert_close(submission.causal_mask(n), reference.causal_mask(n),
                            what=f"causal_mask({n})")


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("MultiHeadAttention holds nn.Linear(d_model, d_model) modules named q_proj, "
                  "k_proj, v_proj and out_proj (with bias unless bias=False), and returns the "
                  "output (B, Lq, d_model) and per-head weights (B, h, Lq, Lk).")
def test_mha_parameters_and_shapes(submission, reference, seed, rng):
    for d, h, bias in ((16, 4, True), (12, 3, False)):
        model = student_mha(submission, ref_mha(reference, seed, d, h, bias), d, h, bias)
        out, w = model(torch.randn(2, 5, d, generator=rng), torch.randn(2, 7, d, generator=rng),
                       torch.randn(2, 7, d, generator=rng))
        checks.assert_shape(out, (2, 5, d), what="MultiHeadAttention output")
        checks.assert_shape(w, (2, h, 5, 7), what="MultiHeadAttention weights")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Project q, k and v, split the d_model features into h heads of d_model / h "
                  "(head i = features i*d_k .. (i+1)*d_k - 1), attend per head, concatenate the "
                  "heads in order and apply out_proj.")
def test_mha_values(submission, reference, seed, rng):
    for d, h, lq, lk in ((16, 4, 5, 7), (24, 2, 6, 6), (8, 8, 3, 4)):
        ref = ref_mha(reference, seed, d, h)
        model = student_mha(submission, ref, d, h)
        x = torch.randn(3, lq, d, generator=rng)
        mem = torch.randn(3, lk, d, generator=rng)
        for mask in (None, bool_mask(rng, (3, 1, 1, lk), dead_rows=False),
                     bool_mask(rng, (lq, lk))):
            with torch.no_grad():
                want = ref(x, mem, mem, mask)
            checks.assert_close(model(x, mem, mem, mask), want, **TOL32,
                                what=f"MultiHeadAttention(d_model={d}, heads={h})")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Use the q_proj/k_proj/v_proj/out_proj parameters directly in forward, so "
                  "gradients reach all of them and the inputs.")
def test_mha_gradient(submission, reference, seed, rng):
    d, h = 16, 4
    ref = ref_mha(reference, seed, d, h)
    model = student_mha(submission, ref, d, h)
    x, mem = torch.randn(2, 5, d, generator=rng), torch.randn(2, 6, d, generator=rng)
    mask = bool_mask(rng, (2, 1, 5, 6), dead_rows=False)
    cot = (torch.randn(2, 5, d, generator=rng), torch.randn(2, h, 5, 6, generator=rng))
    checks.assert_grads_close(vjp(model, x, mem, mem, mask, cotangent=cot),
                              vjp(ref, x, mem, mem, mask, cotangent=cot), atol=1e-4, rtol=1e-4)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("sizes", [(10, 4), (7, 2), (8, 3)], ids=["10-4", "7-2", "8-3"])
@pytest.mark.hint("MultiHeadAttention(d_model, num_heads) raises ValueError when d_model is not "
                  "a multiple of num_heads.")
def test_mha_rejects_indivisible_heads(submission, sizes):
    checks.assert_raises(ValueError, submission.MultiHeadAttention, *sizes)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("A mask that cannot broadcast to (B, h, Lq, Lk) must raise ValueError from "
                  "MultiHeadAttention too, not a cryptic broadcasting error.")
def test_mha_rejects_bad_mask(submission, reference, seed):
    model = student_mha(submission, ref_mha(reference, seed, 8, 2), 8, 2)
    x = torch.zeros(2, 5, 8)
    checks.assert_raises(ValueError, model, x, x, x, torch.ones(2, 5, 4, dtype=torch.bool))
