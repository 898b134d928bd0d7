"""Hidden tests: the full encoder-decoder Transformer (parameters, logits, gradients, shared
embeddings and tied output) and its invariants (causality, padding, permutation equivariance).
"""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

TOL = {"atol": 2e-5, "rtol": 1e-4}
PAD = 0
SMALL = {"d_model": 16, "num_heads": 2, "num_encoder_layers": 2, "num_decoder_layers": 1,
         "d_ff": 32, "dropout": 0.0, "max_len": 12, "pad_id": PAD}
CONFIGS = {
    "post-norm": {},
    "pre-norm-learned": {"norm_first": True, "positional": "learned"},
    "shared-tied": {"share_embeddings": True, "tie_output": True},
    "tied-only": {"tie_output": True},
}


def ref_model(reference, seed, vocab=(11, 11), **config):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return reference.Transformer(*vocab, **{**SMALL, **config}).eval()


def student_copy(submission, ref, vocab=(11, 11), **config):
    model = submission.Transformer(*vocab, **{**SMALL, **config})
    got, want = model.state_dict(), ref.state_dict()
    checks.expect(sorted(got) == sorted(want), "shape",
                  f"Transformer has parameters {sorted(got)}, expected {sorted(want)}")
    for name, t in want.items():
        checks.assert_shape(got[name], t.shape, what=f"parameter {name!r}")
    model.load_state_dict(want)
    model.eval()
    return model


def tokens(rng, B, L, vocab=11, min_len=1):
    """(B, L) int64 tokens in [1, vocab) followed by PAD, lengths in [min_len, L]."""
    t = torch.randint(1, vocab, (B, L), generator=rng)
    lengths = torch.randint(min_len, L + 1, (B,), generator=rng)
    return t.masked_fill(torch.arange(L)[None, :] >= lengths[:, None], PAD)


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("Name the submodules src_embed, tgt_embed, pos, encoder, decoder, out_proj as "
                  "the Transformer docstring says; logits are (B, T, tgt_vocab).")
def test_transformer_parameters_and_logit_shape(submission, reference, seed, rng):
    for vocab in ((11, 11), (9, 13)):
        model = student_copy(submission, ref_model(reference, seed, vocab), vocab)
        out = model(tokens(rng, 3, 7, vocab[0]), tokens(rng, 3, 5, vocab[1]))
        checks.assert_shape(out, (3, 5, vocab[1]), what="Transformer logits")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.hint("Embed as E[tokens] * sqrt(d_model) + positional encoding; mask source "
                  "padding in the encoder and in cross-attention, and the target with its "
                  "padding mask AND the causal mask.")
def test_transformer_logits(submission, reference, seed, rng, config):
    ref = ref_model(reference, seed, **CONFIGS[config])
    model = student_copy(submission, ref, **CONFIGS[config])
    src, tgt = tokens(rng, 4, 9), tokens(rng, 4, 6, min_len=3)
    with torch.no_grad():
        want = ref(src, tgt)
    checks.assert_close(model(src, tgt), want, **TOL, what="Transformer logits")
    with torch.no_grad():
        want = ref.encode(src)
    checks.assert_close(model.encode(src), want, **TOL, what="Transformer.encode output")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.parametrize("config", ["post-norm", "shared-tied"])
@pytest.mark.hint("With share_embeddings, src_embed and tgt_embed are one module; with "
                  "tie_output, out_proj.weight is the target embedding's weight (one "
                  "Parameter, receiving the gradient of both uses).")
def test_transformer_gradient(submission, reference, seed, rng, config):
    ref = ref_model(reference, seed, **CONFIGS[config])
    model = student_copy(submission, ref, **CONFIGS[config])
    src, tgt = tokens(rng, 3, 8), tokens(rng, 3, 5, min_len=2)
    g = torch.randn(3, 5, 11, generator=rng)
    checks.assert_grads_close(vjp(model, src, tgt, cotangent=g), vjp(ref, src, tgt, cotangent=g),
                              atol=1e-4, rtol=1e-4)


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("The logits at target position t may depend only on target tokens 0..t: the "
                  "decoder's self-attention needs the causal mask (True on and below the "
                  "diagonal) in every decoder layer.")
def test_decoder_is_causal(submission, reference, seed, rng):
    model = student_copy(submission, ref_model(reference, seed))
    src = tokens(rng, 3, 8)
    tgt = torch.randint(1, 11, (3, 7), generator=rng)
    base = model(src, tgt)
    for t in (2, 4, 6):
        changed = tgt.clone()
        changed[:, t:] = torch.randint(1, 11, changed[:, t:].shape, generator=rng)
        out = model(src, changed)
        checks.assert_close(out[:, :t], base[:, :t], atol=1e-5, rtol=1e-5,
                            failure_class="causality",
                            what=f"logits before position {t} after changing later tokens")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Padded source positions must be invisible: mask them as keys in the "
                  "encoder's self-attention and in the decoder's cross-attention.")
def test_source_padding_is_ignored(submission, reference, seed, rng):
    model = student_copy(submission, ref_model(reference, seed))
    src, tgt = tokens(rng, 4, 6), tokens(rng, 4, 5, min_len=5)
    longer = torch.cat([src, torch.full((4, 5), PAD)], dim=1)  # more padding, same content
    checks.assert_close(model(longer, tgt), model(src, tgt), atol=1e-5, rtol=1e-5,
                        failure_class="invariant", what="logits after appending source padding")
    x = torch.randn(4, 6, SMALL["d_model"], generator=rng)
    keep = src != PAD
    noisy = torch.where(keep[..., None], x, torch.randn(x.shape, generator=rng) * 5)
    mask = keep[:, None, None, :]
    out, out_noisy = model.encoder(x, mask), model.encoder(noisy, mask)
    checks.assert_close(out_noisy[keep], out[keep], atol=1e-5, rtol=1e-5,
                        failure_class="invariant",
                        what="encoder outputs at real tokens after changing padded inputs")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Attention alone is permutation-equivariant: only the positional encoding "
                  "tells positions apart. With positional='none' permuting the source permutes "
                  "the encoder output; with sinusoidal encodings it must not.")
def test_encoder_permutation_equivariance(submission, reference, seed, rng):
    src = torch.randint(1, 11, (3, 8), generator=rng)
    perm = torch.randperm(8, generator=rng)
    while bool((perm == torch.arange(8)).all()):
        perm = torch.randperm(8, generator=rng)
    plain = student_copy(submission, ref_model(reference, seed, positional="none"),
                         positional="none")
    checks.assert_close(plain.encode(src[:, perm]), plain.encode(src)[:, perm], atol=1e-5,
                        rtol=1e-5, failure_class="invariant",
                        what="encoder output of a permuted source without positions")
    model = student_copy(submission, ref_model(reference, seed))
    diff = (model.encode(src[:, perm]) - model.encode(src)[:, perm]).detach().abs().max()
    checks.expect(float(diff) > 1e-3, "invariant",
                  "with sinusoidal positions the encoder output is still permutation-equivariant")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["heads", "shared-vocab", "positional"])
@pytest.mark.hint("Transformer raises ValueError for d_model not divisible by num_heads, "
                  "share_embeddings with different vocabularies, or an unknown positional kind.")
def test_transformer_rejects_bad_config(submission, case):
    args = {"heads": ((11, 11), {"d_model": 18, "num_heads": 4}),
            "shared-vocab": ((11, 12), {"share_embeddings": True}),
            "positional": ((11, 11), {"positional": "rotary"})}[case]
    checks.assert_raises(ValueError, submission.Transformer, *args[0], **{**SMALL, **args[1]})


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("A source or target longer than max_len must raise ValueError (the "
                  "positional table has only max_len rows).")
def test_transformer_rejects_long_sequence(submission, reference, seed):
    model = student_copy(submission, ref_model(reference, seed))
    long = torch.ones(1, SMALL["max_len"] + 1, dtype=torch.int64)
    checks.assert_raises(ValueError, model, long, torch.ones(1, 3, dtype=torch.int64))
