"""Self-check for Checkpoint 5: one small test per task, on fixed inputs.

Run them with ``llmsoc check cp5_bert_gpt`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp5_bert_gpt``. Expected values come from snapshots
of the reference solution; the graded hidden tests check much more (gradients, causality, the
cache, sampling, the masking proportions, training to perplexity and accuracy bars) on inputs
you cannot see.
"""

import pytest
import torch

from autograder.grading import checks
from autograder.grading.inputs import wave

GPT = {"vocab_size": 19, "block_size": 10, "n_layer": 2, "n_head": 2, "n_embd": 16}
BERT = {"vocab_size": 19, "max_len": 8, "n_layer": 1, "n_head": 2, "n_embd": 16}
TEXT = ("the cat sat on the mat. the dog sat on the log. a cat and a dog met; "
        "the cat ran, the dog sat. 1999 cats, 2024 dogs!\n")


def token_ids(B, T, V, offset=0):
    """Fixed (B, T) int64 ids in [0, V)."""
    return (torch.arange(B * T).reshape(B, T) * 7 + offset) % V


def reference_state(ref, cls_name, config):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return getattr(ref, cls_name)(**config).state_dict()


def student_model(submission, snapshot, cls_name, config):
    """The student's model holding the reference's seed-0 weights, and those weights."""
    state = snapshot(f"{cls_name}_state", lambda ref: reference_state(ref, cls_name, config))
    model = getattr(submission, cls_name)(**config)
    got = model.state_dict()
    checks.expect(sorted(got) == sorted(state), "shape",
                  f"{cls_name} parameters are named {sorted(got)}, expected {sorted(state)}")
    model.load_state_dict(state)
    return model, state


def with_state(ref, cls_name, config, state):
    model = getattr(ref, cls_name)(**config)
    model.load_state_dict(state)
    return model


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Special tokens first, then the sorted distinct characters.")
def test_char_tokenizer_basic(submission, snapshot):
    tok = submission.CharTokenizer(TEXT, ["<eos>"])
    expected = snapshot("char_ids", lambda ref: ref.CharTokenizer(TEXT, ["<eos>"]).encode(
        "the dog<eos>"))
    ids = tok.encode("the dog<eos>")
    checks.assert_close(torch.tensor(ids), torch.tensor(expected), atol=0, rtol=0,
                        what="encode('the dog<eos>')")
    checks.expect(tok.decode(ids) == "the dog<eos>", "value", "decode(encode(s)) != s")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Most frequent adjacent pair first, ties to the smallest pair; new ids from "
                  "256; merges never cross PRETOKENIZE chunks.")
def test_bpe_merges_basic(submission, snapshot):
    expected = snapshot("bpe_merges", lambda ref: ref.train_bpe(TEXT * 3, 256 + 12).merges)
    tok = submission.train_bpe(TEXT * 3, 256 + 12)
    checks.expect([tuple(m) for m in tok.merges] == [tuple(m) for m in expected], "value",
                  f"learned merges {tok.merges}, expected {expected}")
    checks.expect(tok.decode(tok.encode("the cat, ü 🙂")) == "the cat, ü 🙂", "value",
                  "decode(encode(s)) != s")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pre-norm blocks, causal attention, the tied head; see the MiniGPT docstring.")
def test_gpt_forward_basic(submission, snapshot):
    model, state = student_model(submission, snapshot, "MiniGPT", GPT)
    idx = token_ids(2, GPT["block_size"], GPT["vocab_size"])
    expected = snapshot("gpt_logits", lambda ref: with_state(ref, "MiniGPT", GPT, state)(
        idx).detach())
    checks.assert_close(model(idx), expected, atol=2e-5, rtol=1e-4, what="MiniGPT logits")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Changing a later token must not change the logits at earlier positions.")
def test_gpt_causal_basic(submission, snapshot):
    model, _ = student_model(submission, snapshot, "MiniGPT", GPT)
    idx = token_ids(1, GPT["block_size"], GPT["vocab_size"])
    changed = idx.clone()
    changed[0, 6:] = (changed[0, 6:] + 1) % GPT["vocab_size"]
    checks.assert_close(model(changed)[:, :6], model(idx)[:, :6], atol=1e-6,
                        failure_class="causality", what="logits before the changed tokens")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("forward_with_cache(new tokens, cache) must give the same logits as a full "
                  "forward at those positions.")
def test_kv_cache_basic(submission, snapshot):
    model, _ = student_model(submission, snapshot, "MiniGPT", GPT)
    idx = token_ids(2, 8, GPT["vocab_size"], offset=3)
    first, cache = model.forward_with_cache(idx[:, :5])
    rest, _ = model.forward_with_cache(idx[:, 5:], cache)
    checks.assert_close(torch.cat([first, rest], dim=1), model(idx), atol=2e-5, rtol=1e-4,
                        what="cached logits vs full forward")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Temperature, then top-k, then top-p (keep a token while the mass before it "
                  "is < p); removed logits are -inf.")
def test_filter_logits_basic(submission, snapshot):
    logits = wave(3, 12, scale=3.0)
    settings = [{"temperature": 0.5}, {"top_k": 3}, {"top_p": 0.6}, {"top_k": 5, "top_p": 0.8}]
    expected = snapshot("filter_logits", lambda ref: [ref.filter_logits(logits, **s)
                                                      for s in settings])
    for s, e in zip(settings, expected, strict=True):
        checks.assert_close(submission.filter_logits(logits, **s), e, what=f"filter_logits({s})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Decoupled weight decay, bias-corrected moments, step counted from 1.")
def test_adamw_update_basic(submission, snapshot):
    p, g = wave(3, 4), wave(3, 4, phase=1.0)
    m, v = wave(3, 4, scale=0.1, phase=2.0), wave(3, 4, scale=0.1, phase=3.0).abs()
    expected = snapshot("adamw", lambda ref: ref.adamw_update(p, g, m, v, 3, 0.01,
                                                              (0.9, 0.95), 1e-8, 0.1))
    checks.assert_close(submission.adamw_update(p, g, m, v, 3, 0.01, (0.9, 0.95), 1e-8, 0.1),
                        expected, atol=1e-6, what="adamw_update")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Linear warm-up to max_lr, cosine down to min_lr at max_steps, min_lr after.")
def test_lr_schedule_basic(submission, snapshot):
    steps = list(range(0, 25, 2))
    expected = snapshot("lr", lambda ref: [ref.lr_at(s, 1e-3, 1e-4, 5, 20) for s in steps])
    got = [submission.lr_at(s, 1e-3, 1e-4, 5, 20) for s in steps]
    checks.assert_close(torch.tensor(got, dtype=torch.float64),
                        torch.tensor(expected, dtype=torch.float64), atol=1e-12, what="lr_at")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Labels hold the original id at chosen positions, -100 elsewhere; special "
                  "tokens (ids 0..3 here) are never chosen.")
def test_mask_tokens_basic(submission):
    ids = 4 + token_ids(16, 8, 15)
    ids[:, 0], ids[:, -1], ids[:4, -3:] = 1, 2, 0
    corrupted, labels = submission.mask_tokens(ids, 3, 19, [0, 1, 2, 3])
    chosen = labels != -100
    checks.expect(not bool(chosen[:, 0].any() or chosen[:, -1].any() or chosen[:4, -3:].any()),
                  "invariant", "a special or padding token was chosen")
    checks.assert_close(labels[chosen], ids[chosen], atol=0, what="labels at chosen positions")
    checks.assert_close(corrupted[~chosen], ids[~chosen], atol=0, what="unchosen tokens")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("emb_ln(token + position + segment), bidirectional blocks with the padding "
                  "mask, ln_f, then the tied MLM head.")
def test_bert_mlm_logits_basic(submission, snapshot):
    model, state = student_model(submission, snapshot, "MiniBERT", BERT)
    ids = token_ids(2, BERT["max_len"], BERT["vocab_size"], offset=4)
    segments = (torch.arange(BERT["max_len"]) >= 4).long().expand(2, -1)
    mask = torch.tensor([[True] * 8, [True] * 5 + [False] * 3])
    expected = snapshot("bert_mlm_logits", lambda ref: with_state(
        ref, "MiniBERT", BERT, state).mlm_logits(ids, segments, mask).detach())
    checks.assert_close(model.mlm_logits(ids, segments, mask), expected, atol=2e-5, rtol=1e-4,
                        what="MiniBERT.mlm_logits")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("generate must raise ValueError when the prompt is longer than block_size.")
def test_generate_rejects_long_prompt(submission, snapshot):
    model, _ = student_model(submission, snapshot, "MiniGPT", GPT)
    checks.assert_raises(ValueError, model.generate, token_ids(1, GPT["block_size"] + 1, 19), 2)
