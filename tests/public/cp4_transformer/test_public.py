"""Self-check for Checkpoint 4: one or two small tests per task, on fixed inputs.

Run them with ``llmsoc check cp4_transformer`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp4_transformer``. Expected values come from
snapshots of the reference solution; the graded hidden tests check much more (random masks,
gradients, invariants, beam search against exhaustive search, training on three tasks) on
inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.support import seq_tasks
from autograder.grading.inputs import wave

TINY = {"d_model": 8, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
        "d_ff": 16, "dropout": 0.0, "max_len": 10, "pad_id": 0}


def seeded(make):
    """``make()`` with torch seeded at 0, leaving the global generator untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return make()


def load(model, state):
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    model.eval()
    return model


def tiny_state(ref):
    return seeded(lambda: ref.Transformer(6, 6, **TINY).state_dict())


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("softmax(q k^T / sqrt(d_k)) v; blocked keys (mask False) get -inf scores; a "
                  "row with every key blocked gets zeros.")
def test_attention_basic(submission, snapshot):
    q, k, v = wave(2, 3, 4), wave(2, 5, 4, phase=1.0), wave(2, 5, 6, phase=2.0)
    mask = torch.tensor([[True, True, False, True, False]] * 2 + [[False] * 5])  # (3, 5)
    expected = snapshot("attention", lambda ref: ref.scaled_dot_product_attention(q, k, v, mask))
    checks.assert_close(submission.scaled_dot_product_attention(q, k, v, mask), expected,
                        atol=1e-5, what="(output, weights)")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("A mask that does not broadcast to (..., Lq, Lk) must raise ValueError.")
def test_attention_rejects_bad_mask(submission):
    q = wave(2, 3, 4)
    checks.assert_raises(ValueError, submission.scaled_dot_product_attention, q, q, q,
                         torch.ones(3, 4, dtype=torch.bool))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Name the projections q_proj, k_proj, v_proj, out_proj; split d_model into "
                  "heads of d_model / num_heads features.")
def test_multi_head_attention_basic(submission, snapshot):
    state = snapshot("mha_state", lambda ref: seeded(
        lambda: ref.MultiHeadAttention(8, 2).state_dict()))
    x, mem = wave(2, 3, 8), wave(2, 4, 8, phase=1.0)

    def forward(ref):
        module = load(ref.MultiHeadAttention(8, 2), state)
        with torch.no_grad():
            return module(x, mem, mem)

    expected = snapshot("mha", forward)
    module = load(submission.MultiHeadAttention(8, 2), state)
    checks.assert_close(module(x, mem, mem), expected, atol=1e-5, what="(output, weights)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Normalise over the last dimension with the biased variance, eps inside the "
                  "square root; weight ones and bias zeros at the start.")
def test_layer_norm_basic(submission, snapshot):
    x = wave(3, 8, scale=3.0)
    expected = snapshot("layer_norm", lambda ref: ref.LayerNorm(8)(x).detach())
    checks.assert_close(submission.LayerNorm(8)(x), expected, atol=1e-5)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)).")
def test_positional_encoding_basic(submission, snapshot):
    expected = snapshot("pe", lambda ref: ref.sinusoidal_positional_encoding(20, 8))
    checks.assert_close(submission.sinusoidal_positional_encoding(20, 8), expected, atol=1e-6)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Post-norm: x = norm1(x + self_attn(x)); x = norm2(x + ff(x)).")
def test_encoder_layer_basic(submission, snapshot):
    state = snapshot("encoder_layer_state", lambda ref: seeded(
        lambda: ref.EncoderLayer(8, 2, 16).state_dict()))
    x = wave(2, 5, 8)
    mask = torch.tensor([[True] * 5, [True, True, True, False, False]])[:, None, None, :]

    def forward(ref):
        with torch.no_grad():
            return load(ref.EncoderLayer(8, 2, 16), state)(x, mask)

    expected = snapshot("encoder_layer", forward)
    layer = load(submission.EncoderLayer(8, 2, 16), state)
    checks.assert_close(layer(x, mask), expected, atol=1e-5)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Embed (times sqrt(d_model)) plus positions, encode with the source padding "
                  "mask, decode with padding AND causal masks, project to the vocabulary.")
def test_transformer_basic(submission, snapshot):
    state = snapshot("transformer_state", tiny_state)
    src = torch.tensor([[3, 4, 5, 0], [5, 5, 0, 0]])
    tgt = torch.tensor([[1, 5, 4], [1, 5, 5]])

    def forward(ref):
        with torch.no_grad():
            return load(ref.Transformer(6, 6, **TINY), state)(src, tgt)

    expected = snapshot("transformer", forward)
    model = load(submission.Transformer(6, 6, **TINY), state)
    checks.assert_close(model(src, tgt), expected, atol=1e-4, what="logits")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("(1 - eps) * NLL + eps * mean of -log p over the vocabulary, averaged over "
                  "the non-padding targets; lr = d^-0.5 * min(step^-0.5, step * warmup^-1.5).")
def test_loss_and_schedule_basic(submission, snapshot):
    logits = wave(2, 4, 6, scale=3.0)
    targets = torch.tensor([[3, 4, 2, 0], [5, 2, 0, 0]])
    expected = snapshot("loss_and_lr", lambda ref: {
        "loss": ref.label_smoothed_cross_entropy(logits, targets, 0.1, 0),
        "lr": torch.tensor([ref.noam_lr(s, 64, 100) for s in (1, 50, 100, 400)])})
    checks.assert_close(submission.label_smoothed_cross_entropy(logits, targets, 0.1, 0),
                        expected["loss"], atol=1e-5, what="label-smoothed loss")
    lrs = torch.tensor([float(submission.noam_lr(s, 64, 100)) for s in (1, 50, 100, 400)])
    checks.assert_close(lrs, expected["lr"], atol=1e-9, rtol=1e-6, what="noam_lr values")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Greedy: append the argmax token until EOS, pad after it. Beam search with "
                  "beam_size=1 returns the same tokens (up to and including EOS).")
def test_decoding_basic(submission, snapshot):
    state = snapshot("transformer_state", tiny_state)
    src = torch.tensor([[3, 4, 5, 0], [5, 5, 0, 0], [4, 0, 0, 0]])

    def decode(ref):
        model = load(ref.Transformer(6, 6, **TINY), state)
        return {"greedy": ref.greedy_decode(model, src, 6, 1, 2),
                "beam": [ref.beam_search(model, s, 3, 6, 1, 2)[0] for s in src]}

    expected = snapshot("decoding", decode)
    model = load(submission.Transformer(6, 6, **TINY), state)
    checks.assert_close(submission.greedy_decode(model, src, 6, 1, 2), expected["greedy"],
                        what="greedy_decode tokens")
    for s, want in zip(src, expected["beam"], strict=True):
        tokens, _ = submission.beam_search(model, s, 3, 6, 1, 2)
        checks.assert_close(tokens, want, what="beam_search tokens (beam_size=3)")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("A few dozen steps of train_seq2seq should already lower the loss; check "
                  "teacher forcing and that the optimizer and the schedule step every time.")
def test_training_lowers_loss(submission):
    src, tgt = seq_tasks.generate("reverse", 256, seed=12345)
    model = submission.train_seq2seq("reverse", seed=0, steps=40)
    model.eval()
    logits = model(src, tgt[:, :-1])
    checks.assert_shape(logits, (256, tgt.shape[1] - 1, seq_tasks.VOCAB_SIZE))
    logp = torch.log_softmax(logits.double(), dim=-1)
    keep = tgt[:, 1:] != seq_tasks.PAD
    nll = -logp.gather(-1, tgt[:, 1:, None]).squeeze(-1)[keep].mean()
    checks.expect(float(nll) < 1.9, "threshold",
                  f"mean NLL {float(nll):.3f} after 40 steps; an untrained model has about 2.7")
