"""Self-check for Checkpoint 4: one or two small tests per task.

Run them with ``llmsoc check cp4_transformer`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp4_transformer``. Each test draws its inputs
(tensors, masks, token sequences, sizes, settings) from its seed: a fixed one in a self-check,
where the expected values come from snapshots of the reference solution, and a secret one in the
official grade. The graded hidden tests check much more (random masks, gradients, invariants,
beam search against exhaustive search, training on three tasks) on inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.support import seq_tasks

TINY = {"d_model": 8, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
        "d_ff": 16, "dropout": 0.0, "max_len": 10, "pad_id": 0}
PAD, BOS, EOS = 0, 1, 2  # the tiny models' special ids; ordinary tokens start at 3


def seeded(make, seed):
    """``make()`` with torch seeded at ``seed``, leaving the global generator untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return make()


def load(model, state):
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    model.eval()
    return model


def padded(inputs, rows, length, vocab):
    """(rows, length) int64 ids of ordinary tokens in [3, vocab), each row of a length in
    [1, length] and padded with PAD after it."""
    ids = inputs.integers(3, vocab, rows, length)
    lengths = torch.tensor([inputs.randint(1, length) for _ in range(rows)])
    return ids.masked_fill(torch.arange(length) >= lengths[:, None], PAD)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("softmax(q k^T / sqrt(d_k)) v; blocked keys (mask False) get -inf scores; a "
                  "row with every key blocked gets zeros.")
def test_attention_basic(submission, snapshot, inputs):
    B, Lq, Lk = inputs.randint(1, 3), inputs.randint(2, 4), inputs.randint(3, 6)
    dk, dv = inputs.randint(2, 6), inputs.randint(2, 6)
    q, k, v = inputs.wave(B, Lq, dk), inputs.wave(B, Lk, dk), inputs.wave(B, Lk, dv)
    mask = inputs.integers(0, 2, Lq, Lk).bool()
    mask[inputs.randint(0, Lq - 1)] = False  # a query that may attend to no key
    expected = snapshot("attention", lambda ref: ref.scaled_dot_product_attention(q, k, v, mask))
    checks.assert_close(submission.scaled_dot_product_attention(q, k, v, mask), expected,
                        atol=1e-5, what="(output, weights)")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("A mask that does not broadcast to (..., Lq, Lk) must raise ValueError.")
def test_attention_rejects_bad_mask(submission, inputs):
    L = inputs.randint(2, 5)
    q = inputs.wave(inputs.randint(1, 3), L, inputs.randint(2, 6))
    checks.assert_raises(ValueError, submission.scaled_dot_product_attention, q, q, q,
                         torch.ones(L, L + inputs.randint(1, 3), dtype=torch.bool))


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Name the projections q_proj, k_proj, v_proj, out_proj; split d_model into "
                  "heads of d_model / num_heads features.")
def test_multi_head_attention_basic(submission, snapshot, inputs):
    d_model, heads = inputs.choice([(8, 2), (8, 4), (12, 3), (12, 2)])
    torch_seed = inputs.torch_seed()
    state = snapshot("mha_state", lambda ref: seeded(
        lambda: ref.MultiHeadAttention(d_model, heads).state_dict(), torch_seed))
    B = inputs.randint(1, 3)
    x, mem = inputs.wave(B, inputs.randint(2, 5), d_model), inputs.wave(B, inputs.randint(2, 5),
                                                                        d_model)

    def forward(ref):
        module = load(ref.MultiHeadAttention(d_model, heads), state)
        with torch.no_grad():
            return module(x, mem, mem)

    expected = snapshot("mha", forward)
    module = load(submission.MultiHeadAttention(d_model, heads), state)
    checks.assert_close(module(x, mem, mem), expected, atol=1e-5, what="(output, weights)")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Normalise over the last dimension with the biased variance, eps inside the "
                  "square root; weight ones and bias zeros at the start.")
def test_layer_norm_basic(submission, snapshot, inputs):
    d = inputs.randint(4, 12)
    x = inputs.wave(inputs.randint(2, 5), d, scale=inputs.uniform(1.0, 5.0))
    expected = snapshot("layer_norm", lambda ref: ref.LayerNorm(d)(x).detach())
    checks.assert_close(submission.LayerNorm(d)(x), expected, atol=1e-5)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("PE[p, 2i] = sin(p / 10000^(2i/d)), PE[p, 2i+1] = cos(p / 10000^(2i/d)).")
def test_positional_encoding_basic(submission, snapshot, inputs):
    max_len, d = inputs.randint(5, 30), 2 * inputs.randint(2, 8)
    expected = snapshot("pe", lambda ref: ref.sinusoidal_positional_encoding(max_len, d))
    checks.assert_close(submission.sinusoidal_positional_encoding(max_len, d), expected,
                        atol=1e-6)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Post-norm: x = norm1(x + self_attn(x)); x = norm2(x + ff(x)).")
def test_encoder_layer_basic(submission, snapshot, inputs):
    torch_seed = inputs.torch_seed()
    state = snapshot("encoder_layer_state", lambda ref: seeded(
        lambda: ref.EncoderLayer(8, 2, 16).state_dict(), torch_seed))
    B, L = inputs.randint(2, 3), inputs.randint(3, 6)
    x = inputs.wave(B, L, 8)
    lengths = torch.tensor([L] + [inputs.randint(1, L) for _ in range(B - 1)])
    mask = (torch.arange(L) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, L): padding

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
def test_transformer_basic(submission, snapshot, inputs):
    V_src, V_tgt = inputs.randint(5, 8), inputs.randint(5, 8)
    torch_seed = inputs.torch_seed()
    state = snapshot("transformer_state", lambda ref: seeded(
        lambda: ref.Transformer(V_src, V_tgt, **TINY).state_dict(), torch_seed))
    B = inputs.randint(2, 3)
    src = padded(inputs, B, inputs.randint(3, 6), V_src)
    tgt = inputs.integers(EOS, V_tgt, B, inputs.randint(2, 5))
    tgt[:, 0] = BOS

    def forward(ref):
        with torch.no_grad():
            return load(ref.Transformer(V_src, V_tgt, **TINY), state)(src, tgt)

    expected = snapshot("transformer", forward)
    model = load(submission.Transformer(V_src, V_tgt, **TINY), state)
    checks.assert_close(model(src, tgt), expected, atol=1e-4, what="logits")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("(1 - eps) * NLL + eps * mean of -log p over the vocabulary, averaged over "
                  "the non-padding targets; lr = d^-0.5 * min(step^-0.5, step * warmup^-1.5).")
def test_loss_and_schedule_basic(submission, snapshot, inputs):
    B, T, V = inputs.randint(2, 3), inputs.randint(3, 5), inputs.randint(4, 8)
    logits = inputs.wave(B, T, V, scale=3.0)
    targets = padded(inputs, B, T, V)
    eps = inputs.uniform(0.05, 0.3)
    d_model, warmup = inputs.choice([16, 32, 64, 128]), inputs.randint(10, 200)
    steps = [1, inputs.randint(2, warmup - 1), warmup, inputs.randint(warmup + 1, 5 * warmup)]
    expected = snapshot("loss_and_lr", lambda ref: {
        "loss": ref.label_smoothed_cross_entropy(logits, targets, eps, PAD),
        "lr": torch.tensor([ref.noam_lr(s, d_model, warmup) for s in steps])})
    checks.assert_close(submission.label_smoothed_cross_entropy(logits, targets, eps, PAD),
                        expected["loss"], atol=1e-5, what="label-smoothed loss")
    lrs = torch.tensor([float(submission.noam_lr(s, d_model, warmup)) for s in steps])
    checks.assert_close(lrs, expected["lr"], atol=1e-9, rtol=1e-6, what="noam_lr values")


DECODE_LEN, BEAM = 6, 3


@torch.no_grad()
def decoding_margin(ref, model, src):
    """The smallest gap, over every decision that greedy_decode(model, src, DECODE_LEN) and
    beam_search(model, s, BEAM, DECODE_LEN) take for each row s of src, between the chosen
    option and the best one left out (logits for greedy; log-probabilities for the beam's
    cut-off and normalised scores for the final pick): decisions that a float error of an
    equally correct implementation could flip have a small one."""
    gaps = [float("inf")]
    src_mask = ref.padding_mask(src, PAD)
    memory = model.encode(src, src_mask)
    ys, done = torch.full((src.shape[0], 1), BOS), torch.zeros(src.shape[0], dtype=torch.bool)
    for _ in range(DECODE_LEN):
        logits = model.decode(ys, memory, src_mask)[:, -1]  # (B, V)
        top = logits.topk(2).values
        gaps += (top[:, 0] - top[:, 1])[~done].tolist()
        token = logits.argmax(dim=-1).masked_fill(done, PAD)
        ys, done = torch.cat([ys, token[:, None]], dim=1), done | (token == EOS)
        if bool(done.all()):
            break
    for s in src:
        s = s[None]
        mask = ref.padding_mask(s, PAD)
        mem = model.encode(s, mask)
        prefixes, logps, finished = torch.full((1, 1), BOS), torch.zeros(1, dtype=torch.float64), []
        for t in range(1, DECODE_LEN + 1):
            n = prefixes.shape[0]
            logits = model.decode(prefixes, mem.expand(n, -1, -1), mask.expand(n, -1, -1, -1))
            V = logits.shape[-1]
            cand = (logps[:, None] + torch.log_softmax(logits[:, -1].double(), dim=-1)).flatten()
            ordered = cand.sort(descending=True).values
            k = min(BEAM, cand.numel())
            if cand.numel() > k:
                gaps.append(float(ordered[k - 1] - ordered[k]))
            top, idx = cand.topk(k)
            token = idx % V
            prefixes = torch.cat([prefixes[idx // V], token[:, None]], dim=1)
            ended = (token == EOS) | (t == DECODE_LEN)
            finished += [float(p) / ref.length_penalty(t, 0.6) for p in top[ended]]
            prefixes, logps = prefixes[~ended], top[~ended]
            if prefixes.shape[0] == 0 or len(finished) >= BEAM:
                break
        if len(finished) > 1:
            best = sorted(finished, reverse=True)
            gaps.append(best[0] - best[1])
    return min(gaps)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Greedy: append the argmax token until EOS, pad after it. Beam search with "
                  "beam_size=1 returns the same tokens (up to and including EOS).")
def test_decoding_basic(submission, snapshot, inputs):
    src = padded(inputs, 3, 4, 6)
    torch_seeds = [inputs.torch_seed() for _ in range(8)]

    def pick_state(ref):
        """The first of the candidate weights whose decisions all have a clear margin."""
        best = None
        for torch_seed in torch_seeds:
            state = seeded(lambda: ref.Transformer(6, 6, **TINY).state_dict(), torch_seed)
            margin = decoding_margin(ref, load(ref.Transformer(6, 6, **TINY), state), src)
            if best is None or margin > best[0]:
                best = (margin, state)
            if margin > 1e-3:
                break
        return best[1]

    state = snapshot("decoding_state", pick_state)

    def decode(ref):
        model = load(ref.Transformer(6, 6, **TINY), state)
        return {"greedy": ref.greedy_decode(model, src, DECODE_LEN, BOS, EOS),
                "beam": [ref.beam_search(model, s, BEAM, DECODE_LEN, BOS, EOS)[0] for s in src]}

    expected = snapshot("decoding", decode)
    model = load(submission.Transformer(6, 6, **TINY), state)
    checks.assert_close(submission.greedy_decode(model, src, DECODE_LEN, BOS, EOS),
                        expected["greedy"], what="greedy_decode tokens")
    for s, want in zip(src, expected["beam"], strict=True):
        tokens, _ = submission.beam_search(model, s, BEAM, DECODE_LEN, BOS, EOS)
        checks.assert_close(tokens, want, what="beam_search tokens (beam_size=3)")


@pytest.mark.points(1)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("A few dozen steps of train_seq2seq should already lower the loss; check "
                  "teacher forcing and that the optimizer and the schedule step every time.")
def test_training_lowers_loss(submission, inputs, heldout_seed):
    src, tgt = seq_tasks.generate("reverse", 256, seed=heldout_seed)
    model = submission.train_seq2seq("reverse", seed=inputs.randint(0, 2**31 - 1), steps=40)
    model.eval()
    logits = model(src, tgt[:, :-1])
    checks.assert_shape(logits, (256, tgt.shape[1] - 1, seq_tasks.VOCAB_SIZE))
    logp = torch.log_softmax(logits.double(), dim=-1)
    keep = tgt[:, 1:] != seq_tasks.PAD
    nll = -logp.gather(-1, tgt[:, 1:, None]).squeeze(-1)[keep].mean()
    checks.expect(float(nll) < 1.9, "threshold",
                  f"mean NLL {float(nll):.3f} after 40 steps; an untrained model has about 2.7")
