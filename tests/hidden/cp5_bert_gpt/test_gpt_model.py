"""Hidden tests: attention, blocks and the miniGPT model (values, gradients, causality, tying,
initialisation, the key/value cache, bad input).

The student's modules get the reference's weights through ``load_state_dict``, so both compute
the same function and can be compared value by value.
"""

import math

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

TOL = {"atol": 2e-5, "rtol": 1e-4}
GPT = {"vocab_size": 37, "block_size": 16, "n_layer": 2, "n_head": 4, "n_embd": 32}


def seeded(seed, build):
    """``build()`` with torch seeded, without touching the global generator."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def student_copy(submission, ref_module, cls_name, *args, **kwargs):
    """The student's module ``cls_name(*args)`` holding ``ref_module``'s weights."""
    module = getattr(submission, cls_name)(*args, **kwargs)
    got, expected = module.state_dict(), ref_module.state_dict()
    checks.expect(sorted(got) == sorted(expected), "shape",
                  f"{cls_name} state_dict has keys {sorted(got)}, expected {sorted(expected)}")
    for name, tensor in expected.items():
        checks.assert_shape(got[name], tensor.shape, what=f"parameter {name!r}")
    module.load_state_dict(expected)
    return module


def reference_gpt(reference, seed, **overrides):
    config = {**GPT, **overrides}
    return seeded(seed, lambda: reference.MiniGPT(**config)), config


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Split qkv's output into queries, keys and values (in that order), each into "
                  "n_head heads of size C // n_head; scale the scores by 1/sqrt(head size); mask "
                  "future keys with -inf before the softmax; merge the heads back and apply proj.")
@pytest.mark.parametrize("causal", [True, False])
def test_attention_matches_reference(submission, reference, seed, rng, causal):
    ref = seeded(seed, lambda: reference.SelfAttention(24, 3, causal))
    att = student_copy(submission, ref, "SelfAttention", 24, 3, causal)
    x = torch.randn(3, 9, 24, generator=rng)
    with torch.no_grad():
        expected = ref(x)
    checks.assert_close(att(x), expected, **TOL, what=f"SelfAttention(causal={causal})")
    if not causal:
        mask = torch.ones(3, 9, dtype=torch.bool)
        mask[0, 5:] = False
        mask[2, 2:] = False
        with torch.no_grad():
            expected = ref(x, mask)
        checks.assert_close(att(x, mask), expected, **TOL, what="attention with padding mask")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Pre-norm: x + attn(ln1(x)), then x + mlp(ln2(x)); the MLP is fc, exact GELU, "
                  "proj.")
def test_block_matches_reference(submission, reference, seed, rng):
    ref = seeded(seed, lambda: reference.Block(32, 4))
    block = student_copy(submission, ref, "Block", 32, 4)
    x = torch.randn(2, 11, 32, generator=rng)
    with torch.no_grad():
        expected = ref(x)
    checks.assert_close(block(x), expected, **TOL, what="Block output")


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("Read the MiniGPT docstring: tok_emb, pos_emb, blocks.{i}.(ln1, attn.qkv, "
                  "attn.proj, ln2, mlp.fc, mlp.proj), ln_f, lm_head; logits are (B, T, V).")
def test_gpt_parameter_names_and_logit_shape(submission, reference, seed, rng):
    ref, config = reference_gpt(reference, seed)
    model = student_copy(submission, ref, "MiniGPT", **config)
    idx = torch.randint(0, config["vocab_size"], (2, 7), generator=rng)
    checks.assert_shape(model(idx), (2, 7, config["vocab_size"]), what="MiniGPT logits")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("Token plus learned position embeddings, the blocks, ln_f, then the tied head; "
                  "positions count from 0 for every sequence.")
def test_gpt_forward_matches_reference(submission, reference, seed, rng):
    for overrides in ({}, {"n_layer": 1, "n_head": 2, "n_embd": 16}):
        ref, config = reference_gpt(reference, seed, **overrides)
        model = student_copy(submission, ref, "MiniGPT", **config)
        for T in (config["block_size"], 5):
            idx = torch.randint(0, config["vocab_size"], (3, T), generator=rng)
            with torch.no_grad():
                expected = ref(idx)
            checks.assert_close(model(idx), expected, **TOL, what=f"logits for T={T}")


@pytest.mark.points(3)
@pytest.mark.category("gradient")
@pytest.mark.hint("Every parameter must receive its gradient, and the head must be tied to the "
                  "token embedding (the embedding's gradient then has two contributions).")
def test_gpt_gradients_match_reference(submission, reference, seed, rng):
    ref, config = reference_gpt(reference, seed)
    model = student_copy(submission, ref, "MiniGPT", **config)
    idx = torch.randint(0, config["vocab_size"], (2, 12), generator=rng)
    g = torch.randn(2, 12, config["vocab_size"], generator=rng)
    checks.assert_grads_close(vjp(model, idx, cotangent=g), vjp(ref, idx, cotangent=g),
                              atol=1e-5, rtol=1e-4)


@pytest.mark.points(3)
@pytest.mark.category("invariant")
@pytest.mark.hint("Position t may attend only to positions <= t: mask the scores above the "
                  "diagonal with -inf before the softmax.")
def test_gpt_is_causal(submission, reference, seed, rng):
    ref, config = reference_gpt(reference, seed)
    model = student_copy(submission, ref, "MiniGPT", **config)
    T = config["block_size"]
    idx = torch.randint(0, config["vocab_size"], (2, T), generator=rng)
    base = model(idx)
    for t in (0, 5, T - 2):
        changed = idx.clone()
        changed[:, t + 1:] = torch.randint(0, config["vocab_size"], (2, T - t - 1), generator=rng)
        out = model(changed)
        checks.assert_close(out[:, :t + 1], base[:, :t + 1], atol=1e-6, rtol=1e-6,
                            failure_class="causality",
                            what=f"logits at positions 0..{t} after changing tokens {t + 1}..")


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Tie the head to the embedding by assigning the same Parameter "
                  "(lm_head.weight = tok_emb.weight), not by copying its values.")
def test_gpt_weight_tying_shares_storage(submission, reference, seed, rng):
    ref, config = reference_gpt(reference, seed)
    model = student_copy(submission, ref, "MiniGPT", **config)
    idx = torch.randint(0, config["vocab_size"], (1, 6), generator=rng)
    g = torch.randn(1, 6, config["vocab_size"], generator=rng)
    names = set(vjp(model, idx, cotangent=g).param_grads)
    checks.expect("tok_emb.weight" in names and "lm_head.weight" not in names, "invariant",
                  "lm_head.weight is a parameter of its own: the head is not tied to tok_emb")
    # one storage: loading a new embedding must change the head too
    state = ref.state_dict()
    new = torch.randn(state["tok_emb.weight"].shape, generator=rng) * 0.02
    model.load_state_dict({**state, "tok_emb.weight": new, "lm_head.weight": new})
    after = model.state_dict()
    checks.assert_close(after["lm_head.weight"], new, atol=0, rtol=0, failure_class="invariant",
                        what="lm_head.weight after loading a new embedding")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("GPT-2 init: Linear and Embedding weights N(0, 0.02^2), biases 0, LayerNorm "
                  "1 and 0, and the residual projections attn.proj and mlp.proj with std "
                  "0.02 / sqrt(2 n_layer).")
def test_gpt_initialisation_statistics(submission):
    n_layer = 4
    state = submission.MiniGPT(200, 64, n_layer, 4, 64).state_dict()
    proj_std = 0.02 / math.sqrt(2 * n_layer)
    for name, p in state.items():
        p = p.double()
        if name.endswith(("attn.proj.weight", "mlp.proj.weight")):
            expected = proj_std
        elif name.endswith(("qkv.weight", "fc.weight", "emb.weight", "lm_head.weight")):
            expected = 0.02
        elif name.endswith("bias") or name.endswith("weight"):
            target = 1.0 if (".ln" in name or name.startswith("ln")) and name.endswith(
                "weight") else 0.0
            checks.assert_close(p, torch.full_like(p, target), atol=0, rtol=0,
                                what=f"initial {name}")
            continue
        std = float(p.std())
        checks.expect(abs(std / expected - 1) < 0.1, "value",
                      f"{name}: initial std {std:.4g} is not the GPT-2 value")
        checks.expect(abs(float(p.mean())) < 6 * expected / p.numel() ** 0.5, "value",
                      f"{name}: initial mean {float(p.mean()):.3g} is not about 0")


LOSS_BAND = 0.1  # reference over 50 seeds (V=101, random tokens): |loss - ln V| <= 0.034


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("At initialisation the logits are close to 0, so the loss is about ln(vocab "
                  "size); check the init std and that the head uses the embedding matrix.")
def test_gpt_loss_at_initialisation(submission, seed, rng):
    V = 101
    torch.manual_seed(0)
    model = submission.MiniGPT(V, 32, 2, 2, 48)
    idx = torch.randint(0, V, (16, 32), generator=rng)
    targets = torch.randint(0, V, (16, 32), generator=rng)
    logits = model(idx).double()
    loss = float(torch.nn.functional.cross_entropy(logits.reshape(-1, V), targets.reshape(-1)))
    checks.expect(abs(loss - math.log(V)) < LOSS_BAND, "value",
                  f"loss at initialisation {loss:.3f} is not within {LOSS_BAND} of ln(V)")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("forward_with_cache must place the new tokens at positions T_past.., append "
                  "their keys and values to each block's cache, and attend over all of them.")
def test_kv_cache_matches_full_forward(submission, reference, seed, rng):
    ref, config = reference_gpt(reference, seed)
    model = student_copy(submission, ref, "MiniGPT", **config)
    idx = torch.randint(0, config["vocab_size"], (2, 14), generator=rng)
    full = model(idx)
    logits, cache = model.forward_with_cache(idx[:, :9])
    pieces = [logits]
    for t in range(9, 14):
        logits, cache = model.forward_with_cache(idx[:, t:t + 1], cache)
        pieces.append(logits)
    checks.assert_close(torch.cat(pieces, dim=1), full, **TOL,
                        what="logits computed with the cache, piece by piece")
    checks.expect(len(cache) == config["n_layer"], "shape", "the cache needs one entry per block")
    hs = config["n_embd"] // config["n_head"]
    checks.assert_shape(cache[0][0], (2, config["n_head"], 14, hs), what="cached keys")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["sequence-longer-than-block", "heads-do-not-divide",
                                  "zero-vocab"])
@pytest.mark.hint("MiniGPT must raise ValueError for a sequence longer than block_size, for "
                  "n_embd not divisible by n_head, and for sizes below 1.")
def test_gpt_rejects_bad_input(submission, case):
    if case == "sequence-longer-than-block":
        model = submission.MiniGPT(11, 8, 1, 2, 16)
        checks.assert_raises(ValueError, model, torch.zeros(1, 9, dtype=torch.int64))
    elif case == "heads-do-not-divide":
        checks.assert_raises(ValueError, submission.MiniGPT, 11, 8, 1, 3, 16)
    else:
        checks.assert_raises(ValueError, submission.MiniGPT, 0, 8, 1, 2, 16)
