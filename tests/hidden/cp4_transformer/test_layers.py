"""Hidden tests: layer norm, feed-forward, positional encodings, encoder and decoder layers and
stacks, each holding the reference's weights (loaded with ``load_state_dict``)."""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

TOL = {"atol": 2e-5, "rtol": 1e-4}
GRAD_TOL = {"atol": 1e-4, "rtol": 1e-4}
D, H, FF = 16, 4, 24


def build_ref(reference, seed, cls, *args, **kwargs):
    """A reference module from ``seed`` with every parameter randomised (LayerNorm's ones and
    zeros would hide a swapped weight and bias)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        module = getattr(reference, cls)(*args, **kwargs)
        with torch.no_grad():
            for name, p in module.named_parameters():
                if "norm" in name or cls == "LayerNorm":
                    p.add_(torch.randn_like(p) * 0.3)
    return module.eval()


def student_copy(submission, ref, cls, *args, **kwargs):
    model = getattr(submission, cls)(*args, **kwargs)
    got, want = model.state_dict(), ref.state_dict()
    checks.expect(sorted(got) == sorted(want), "shape",
                  f"{cls} has parameters {sorted(got)}, expected {sorted(want)}")
    for name, t in want.items():
        checks.assert_shape(got[name], t.shape, what=f"{cls} parameter {name!r}")
    model.load_state_dict(want)
    model.eval()
    return model


def pad_mask(rng, B, L):
    """(B, 1, 1, L) bool, every row keeping at least its first position."""
    lengths = torch.randint(1, L + 1, (B,), generator=rng)
    return (torch.arange(L)[None, :] < lengths[:, None])[:, None, None, :]


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Normalise over the last dimension with the biased variance (divide by d, "
                  "not d - 1), add eps inside the square root, then scale by weight and shift "
                  "by bias. weight starts at ones, bias at zeros.")
def test_layer_norm_values(submission, reference, seed, rng):
    for shape, eps in (((4, 7, D), 1e-5), ((3, 10), 1e-2), ((2, 3, 4, 6), 1e-5)):
        d = shape[-1]
        fresh = submission.LayerNorm(d, eps=eps).state_dict()
        checks.assert_close(fresh, reference.LayerNorm(d).state_dict(), what="initial weight/bias")
        ref = build_ref(reference, seed, "LayerNorm", d, eps=eps)
        model = student_copy(submission, ref, "LayerNorm", d, eps=eps)
        x = torch.randn(shape, generator=rng) * 3 + 1
        with torch.no_grad():
            want = ref(x)
        checks.assert_close(model(x), want, **TOL, what=f"LayerNorm of {shape}, eps={eps}")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Write layer norm with differentiable torch operations only: the mean and the "
                  "variance both depend on x, and their gradients matter.")
def test_layer_norm_gradient(submission, reference, seed, rng):
    ref = build_ref(reference, seed, "LayerNorm", D)
    model = student_copy(submission, ref, "LayerNorm", D)
    x, g = torch.randn(5, D, generator=rng), torch.randn(5, D, generator=rng)
    checks.assert_grads_close(vjp(model, x, cotangent=g), vjp(ref, x, cotangent=g), **GRAD_TOL)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("FFN(x) = linear2(relu(linear1(x))), with linear1: d_model -> d_ff and "
                  "linear2: d_ff -> d_model.")
def test_feed_forward_values(submission, reference, seed, rng):
    ref = build_ref(reference, seed, "FeedForward", D, FF)
    model = student_copy(submission, ref, "FeedForward", D, FF)
    x = torch.randn(3, 6, D, generator=rng)
    with torch.no_grad():
        want = ref(x)
    checks.assert_close(model(x), want, **TOL, what="FeedForward output")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)); "
                  "positions start at 0 and the table is float32.")
def test_sinusoidal_table_values(submission, reference):
    for max_len, d in ((50, 16), (7, 2), (128, 64), (3, 10)):
        checks.assert_close(submission.sinusoidal_positional_encoding(max_len, d),
                            reference.sinusoidal_positional_encoding(max_len, d), atol=1e-5,
                            what=f"positional table ({max_len}, {d})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("PositionalEncoding adds pe[:L] to x (B, L, d): sinusoidal as a non-persistent "
                  "buffer named pe, learned as an nn.Parameter named pe.")
def test_positional_encoding_module(submission, reference, seed, rng):
    for kind in ("sinusoidal", "learned"):
        ref = build_ref(reference, seed, "PositionalEncoding", D, 12, kind=kind)
        model = student_copy(submission, ref, "PositionalEncoding", D, 12, kind=kind)
        x = torch.randn(2, 9, D, generator=rng)
        with torch.no_grad():
            want = ref(x)
        checks.assert_close(model(x), want, **TOL, what=f"{kind} PositionalEncoding")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("kind", ["sinusoidal", "learned"])
@pytest.mark.hint("A sequence longer than max_len must raise ValueError in PositionalEncoding's "
                  "forward (slicing pe silently returns fewer rows).")
def test_positional_encoding_rejects_long_sequence(submission, kind):
    module = submission.PositionalEncoding(8, 5, kind=kind)
    checks.assert_raises(ValueError, module, torch.zeros(1, 6, 8))


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("sinusoidal_positional_encoding needs an even d_model; PositionalEncoding "
                  "rejects an unknown kind. Both raise ValueError.")
def test_positional_encoding_rejects_bad_arguments(submission):
    checks.assert_raises(ValueError, submission.sinusoidal_positional_encoding, 10, 7)
    checks.assert_raises(ValueError, submission.PositionalEncoding, 8, 5, kind="rotary")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.hint("Post-norm: x = norm1(x + attn(x)); x = norm2(x + ff(x)). Pre-norm: "
                  "x = x + attn(norm1(x)); x = x + ff(norm2(x)). Self-attention takes x as "
                  "query, key and value, with the mask.")
def test_encoder_layer_values(submission, reference, seed, rng, norm_first):
    ref = build_ref(reference, seed, "EncoderLayer", D, H, FF, norm_first=norm_first)
    model = student_copy(submission, ref, "EncoderLayer", D, H, FF, norm_first=norm_first)
    x, mask = torch.randn(3, 7, D, generator=rng), pad_mask(rng, 3, 7)
    with torch.no_grad():
        want = ref(x, mask)
    checks.assert_close(model(x, mask), want, **TOL, what="EncoderLayer output")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.hint("Three residual sublayers: masked self-attention (tgt_mask), cross-attention "
                  "with queries from the decoder and keys/values from memory (memory_mask), "
                  "feed-forward; norm1..norm3 after (post) or on the input of (pre) each.")
def test_decoder_layer_values(submission, reference, seed, rng, norm_first):
    ref = build_ref(reference, seed, "DecoderLayer", D, H, FF, norm_first=norm_first)
    model = student_copy(submission, ref, "DecoderLayer", D, H, FF, norm_first=norm_first)
    y, mem = torch.randn(3, 5, D, generator=rng), torch.randn(3, 7, D, generator=rng)
    tgt_mask = torch.ones(5, 5, dtype=torch.bool).tril()
    mem_mask = pad_mask(rng, 3, 7)
    with torch.no_grad():
        want = ref(y, mem, tgt_mask, mem_mask)
    checks.assert_close(model(y, mem, tgt_mask, mem_mask), want, **TOL,
                        what="DecoderLayer output")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.hint("Encoder and Decoder apply their layers in order (an nn.ModuleList named "
                  "layers) and, for pre-norm only, a final LayerNorm named norm; gradients must "
                  "reach every parameter and the inputs.")
def test_encoder_decoder_stacks(submission, reference, seed, rng, norm_first):
    enc_ref = build_ref(reference, seed, "Encoder", 2, D, H, FF, norm_first=norm_first)
    enc = student_copy(submission, enc_ref, "Encoder", 2, D, H, FF, norm_first=norm_first)
    x, mask = torch.randn(2, 6, D, generator=rng), pad_mask(rng, 2, 6)
    g = torch.randn(2, 6, D, generator=rng)
    checks.assert_grads_close(vjp(enc, x, mask, cotangent=g), vjp(enc_ref, x, mask, cotangent=g),
                              **GRAD_TOL)
    dec_ref = build_ref(reference, seed + 1, "Decoder", 2, D, H, FF, norm_first=norm_first)
    dec = student_copy(submission, dec_ref, "Decoder", 2, D, H, FF, norm_first=norm_first)
    y, g = torch.randn(2, 4, D, generator=rng), torch.randn(2, 4, D, generator=rng)
    causal = torch.ones(4, 4, dtype=torch.bool).tril()
    got = vjp(dec, y, x, causal, mask, cotangent=g)
    want = vjp(dec_ref, y, x, causal, mask, cotangent=g)
    checks.assert_close(got.output, want.output, **TOL, what="Decoder output")
    checks.assert_grads_close(got, want, **GRAD_TOL)
