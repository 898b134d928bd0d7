"""Self-check for Checkpoint 5: one small test per task.

Run them with ``llmsoc check cp5_bert_gpt`` (add ``--debug`` to run your code in-process, so
breakpoints work) or ``pytest tests/public/cp5_bert_gpt``. Each test draws its inputs (texts,
token ids, logits, sizes, settings) from its seed: a fixed one in a self-check, where the
expected values come from snapshots of the reference solution, and a secret one in the official
grade. The graded hidden tests check much more (gradients, causality, the cache, sampling, the
masking proportions, training to perplexity and accuracy bars) on inputs you cannot see.
"""

import pytest
import torch

from autograder.grading import checks

WORDS = ["the", "cat", "sat", "on", "mat", "dog", "log", "a", "and", "met", "ran", "The", "A"]
PUNCTUATION = [" ", " ", " ", " ", ". ", ", ", "; ", "! ", "? ", " - "]


def text(inputs):
    """A text of words, punctuation and numbers, with a final newline, and the words it used."""
    words = [inputs.choice(WORDS) for _ in range(inputs.randint(20, 30))]
    out = words[0]
    for w in words[1:]:
        out += inputs.choice(PUNCTUATION)
        out += str(inputs.randint(0, 2999)) + " " + w if inputs.randint(0, 5) == 0 else w
    return out + inputs.choice([".", "!", ""]) + "\n", words


def gpt_config(inputs):
    return {"vocab_size": inputs.randint(12, 24), "block_size": inputs.randint(6, 12),
            "n_layer": 2, "n_head": 2, "n_embd": 16}


def reference_state(ref, cls_name, config, torch_seed):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed)
        return getattr(ref, cls_name)(**config).state_dict()


def student_model(submission, snapshot, inputs, key, cls_name, config):
    """The student's model holding the reference's initial weights (seeded from ``inputs``,
    snapshotted under ``key``), and those weights."""
    torch_seed = inputs.torch_seed()
    state = snapshot(key, lambda ref: reference_state(ref, cls_name, config, torch_seed))
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
def test_char_tokenizer_basic(submission, snapshot, inputs):
    corpus, words = text(inputs)
    specials = inputs.sample(["<eos>", "<pad>", "<bos>"], inputs.randint(1, 2))
    s = " ".join(inputs.sample(words, 3)) + inputs.choice(specials)
    tok = submission.CharTokenizer(corpus, specials)
    expected = snapshot("char_ids", lambda ref: ref.CharTokenizer(corpus, specials).encode(s))
    ids = tok.encode(s)
    checks.assert_close(torch.tensor(ids), torch.tensor(expected), atol=0, rtol=0,
                        what=f"encode({s!r})")
    checks.expect(tok.decode(ids) == s, "value", "decode(encode(s)) != s")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Most frequent adjacent pair first, ties to the smallest pair; new ids from "
                  "256; merges never cross PRETOKENIZE chunks.")
def test_bpe_merges_basic(submission, snapshot, inputs):
    corpus, words = text(inputs)
    vocab_size = 256 + inputs.randint(8, 16)
    expected = snapshot("bpe_merges", lambda ref: ref.train_bpe(corpus * 3, vocab_size).merges)
    tok = submission.train_bpe(corpus * 3, vocab_size)
    checks.expect([tuple(m) for m in tok.merges] == [tuple(m) for m in expected], "value",
                  f"learned merges {tok.merges}, expected {expected}")
    s = " ".join(inputs.sample(words, 3)) + ", ü 🙂"
    checks.expect(tok.decode(tok.encode(s)) == s, "value", "decode(encode(s)) != s")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Pre-norm blocks, causal attention, the tied head; see the MiniGPT docstring.")
def test_gpt_forward_basic(submission, snapshot, inputs):
    config = gpt_config(inputs)
    model, state = student_model(submission, snapshot, inputs, "gpt_forward_state", "MiniGPT",
                                 config)
    T = inputs.randint(config["block_size"] - 3, config["block_size"])
    idx = inputs.integers(0, config["vocab_size"], inputs.randint(1, 3), T)
    expected = snapshot("gpt_logits", lambda ref: with_state(ref, "MiniGPT", config, state)(
        idx).detach())
    checks.assert_close(model(idx), expected, atol=2e-5, rtol=1e-4, what="MiniGPT logits")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Changing a later token must not change the logits at earlier positions.")
def test_gpt_causal_basic(submission, snapshot, inputs):
    config = gpt_config(inputs)
    V, T = config["vocab_size"], config["block_size"]
    model, _ = student_model(submission, snapshot, inputs, "gpt_causal_state", "MiniGPT", config)
    idx = inputs.integers(0, V, 1, T)
    p = inputs.randint(1, T - 1)
    changed = idx.clone()
    changed[0, p:] = (changed[0, p:] + inputs.randint(1, V - 1)) % V
    checks.assert_close(model(changed)[:, :p], model(idx)[:, :p], atol=1e-6,
                        failure_class="causality", what="logits before the changed tokens")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("forward_with_cache(new tokens, cache) must give the same logits as a full "
                  "forward at those positions.")
def test_kv_cache_basic(submission, snapshot, inputs):
    config = gpt_config(inputs)
    model, _ = student_model(submission, snapshot, inputs, "kv_cache_state", "MiniGPT", config)
    T = inputs.randint(3, config["block_size"])
    idx = inputs.integers(0, config["vocab_size"], inputs.randint(1, 3), T)
    cut = inputs.randint(1, T - 1)
    first, cache = model.forward_with_cache(idx[:, :cut])
    rest, _ = model.forward_with_cache(idx[:, cut:], cache)
    checks.assert_close(torch.cat([first, rest], dim=1), model(idx), atol=2e-5, rtol=1e-4,
                        what="cached logits vs full forward")


def top_p_margin(logits, temperature, top_k, top_p):
    """How far ``top_p`` lies from the probability mass before any token of any row (after the
    temperature and top-k): a small margin is a decision that rounding could flip."""
    logits = logits.double() / temperature
    if top_k is not None:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1).sort(dim=-1, descending=True).values
    return float((probs.cumsum(dim=-1) - probs - top_p).abs().min())


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Temperature, then top-k, then top-p (keep a token while the mass before it "
                  "is < p); removed logits are -inf.")
def test_filter_logits_basic(submission, snapshot, inputs):
    V = inputs.randint(8, 16)
    logits = inputs.wave(inputs.randint(2, 4), V, scale=3.0)
    settings = [{"temperature": inputs.uniform(0.3, 2.0)}, {"top_k": inputs.randint(1, V - 1)}]
    for low, high, top_k in ((0.3, 0.9, None), (0.5, 0.95, inputs.randint(2, V - 1))):
        top_p = inputs.uniform(low, high)
        while top_p_margin(logits, 1.0, top_k, top_p) < 1e-4:  # keep clear of the boundary
            top_p = inputs.uniform(low, high)
        settings.append({"top_p": top_p} if top_k is None else {"top_k": top_k, "top_p": top_p})
    expected = snapshot("filter_logits", lambda ref: [ref.filter_logits(logits, **s)
                                                      for s in settings])
    for s, e in zip(settings, expected, strict=True):
        checks.assert_close(submission.filter_logits(logits, **s), e, what=f"filter_logits({s})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Decoupled weight decay, bias-corrected moments, step counted from 1.")
def test_adamw_update_basic(submission, snapshot, inputs):
    shape = (inputs.randint(2, 4), inputs.randint(2, 5))
    p, g = inputs.wave(*shape), inputs.wave(*shape)
    m, v = inputs.wave(*shape, scale=0.1), inputs.wave(*shape, scale=0.1).abs()
    step, lr = inputs.randint(1, 20), inputs.uniform(1e-3, 5e-2)
    betas = (inputs.uniform(0.8, 0.95), inputs.uniform(0.9, 0.999))
    weight_decay = inputs.uniform(0.0, 0.2)
    expected = snapshot("adamw", lambda ref: ref.adamw_update(p, g, m, v, step, lr, betas, 1e-8,
                                                              weight_decay))
    checks.assert_close(submission.adamw_update(p, g, m, v, step, lr, betas, 1e-8, weight_decay),
                        expected, atol=1e-6, what="adamw_update")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Linear warm-up to max_lr, cosine down to min_lr at max_steps, min_lr after.")
def test_lr_schedule_basic(submission, snapshot, inputs):
    max_lr = inputs.uniform(1e-4, 1e-2)
    min_lr = max_lr * inputs.uniform(0.0, 0.5)
    warmup = inputs.randint(1, 8)
    max_steps = warmup + inputs.randint(5, 25)
    steps = list(range(0, max_steps + 5, inputs.randint(1, 3)))
    expected = snapshot("lr", lambda ref: [ref.lr_at(s, max_lr, min_lr, warmup, max_steps)
                                           for s in steps])
    got = [submission.lr_at(s, max_lr, min_lr, warmup, max_steps) for s in steps]
    checks.assert_close(torch.tensor(got, dtype=torch.float64),
                        torch.tensor(expected, dtype=torch.float64), atol=1e-12, what="lr_at")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Labels hold the original id at chosen positions, -100 elsewhere; special "
                  "tokens (ids 0..3 here) are never chosen.")
def test_mask_tokens_basic(submission, inputs):
    B, T = inputs.randint(12, 20), inputs.randint(6, 10)
    ids = inputs.integers(4, 19, B, T)
    ids[:, 0] = 1  # [CLS]
    lengths = torch.tensor([inputs.randint(3, T) for _ in range(B)])
    ids[torch.arange(B), lengths - 1] = 2  # [SEP]
    special = torch.arange(T) >= lengths[:, None]
    ids[special] = 0  # padding
    special[:, 0] = True
    special[torch.arange(B), lengths - 1] = True
    corrupted, labels = submission.mask_tokens(ids, 3, 19, [0, 1, 2, 3])
    chosen = labels != -100
    checks.expect(not bool(chosen[special].any()), "invariant",
                  "a special or padding token was chosen")
    checks.assert_close(labels[chosen], ids[chosen], atol=0, what="labels at chosen positions")
    checks.assert_close(corrupted[~chosen], ids[~chosen], atol=0, what="unchosen tokens")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("emb_ln(token + position + segment), bidirectional blocks with the padding "
                  "mask, ln_f, then the tied MLM head.")
def test_bert_mlm_logits_basic(submission, snapshot, inputs):
    config = {"vocab_size": inputs.randint(12, 24), "max_len": inputs.randint(6, 10),
              "n_layer": 1, "n_head": 2, "n_embd": 16}
    model, state = student_model(submission, snapshot, inputs, "bert_state", "MiniBERT", config)
    B, T = inputs.randint(2, 3), config["max_len"]
    ids = inputs.integers(0, config["vocab_size"], B, T)
    segments = (torch.arange(T) >= inputs.randint(1, T - 1)).long().expand(B, -1)
    lengths = torch.tensor([T] + [inputs.randint(2, T) for _ in range(B - 1)])
    mask = torch.arange(T) < lengths[:, None]
    expected = snapshot("bert_mlm_logits", lambda ref: with_state(
        ref, "MiniBERT", config, state).mlm_logits(ids, segments, mask).detach())
    checks.assert_close(model.mlm_logits(ids, segments, mask), expected, atol=2e-5, rtol=1e-4,
                        what="MiniBERT.mlm_logits")


@pytest.mark.points(1)
@pytest.mark.category("error-handling")
@pytest.mark.hint("generate must raise ValueError when the prompt is longer than block_size.")
def test_generate_rejects_long_prompt(submission, snapshot, inputs):
    config = gpt_config(inputs)
    model, _ = student_model(submission, snapshot, inputs, "generate_state", "MiniGPT", config)
    prompt = inputs.integers(0, config["vocab_size"], 1,
                             config["block_size"] + inputs.randint(1, 3))
    checks.assert_raises(ValueError, model.generate, prompt, inputs.randint(1, 3))
