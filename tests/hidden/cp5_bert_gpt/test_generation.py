"""Hidden tests: logit filtering (temperature, top-k, top-p) and generation (greedy, sampling,
the key/value cache, bad prompts). Greedy decoding is computed by the trusted side from the
student's own logits."""

import pytest
import torch

from autograder.grading import checks

GPT = {"vocab_size": 29, "block_size": 24, "n_layer": 2, "n_head": 2, "n_embd": 32}


def seeded(seed, build):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def student_gpt(submission, reference, seed):
    """The student's MiniGPT with the reference's weights, scaled up so that the logits are
    far from uniform (sampling then has something to choose)."""
    ref = seeded(seed, lambda: reference.MiniGPT(**GPT))
    state = {k: (v * 20 if k in ("tok_emb.weight", "lm_head.weight") else v)
             for k, v in ref.state_dict().items()}
    model = submission.MiniGPT(**GPT)
    model.load_state_dict(state)
    return model


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Divide by the temperature first; top-k keeps the k largest logits of each row "
                  "(ties with the k-th kept); everything removed becomes -inf.")
def test_filter_logits_temperature_and_top_k(submission, reference, rng):
    logits = torch.randn(5, 40, generator=rng) * 3
    for kwargs in ({"temperature": 0.7}, {"top_k": 1}, {"top_k": 7, "temperature": 1.5},
                   {"top_k": 40}):
        checks.assert_close(submission.filter_logits(logits, **kwargs),
                            reference.filter_logits(logits, **kwargs), atol=1e-6, rtol=1e-5,
                            what=f"filter_logits({kwargs})")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("top-p: sort the probabilities in decreasing order and keep a token while the "
                  "mass of the tokens before it is below p, so the token crossing p is kept.")
def test_filter_logits_top_p(submission, reference, rng):
    logits = torch.randn(6, 30, generator=rng) * 2
    for kwargs in ({"top_p": 0.9}, {"top_p": 0.3, "temperature": 0.8},
                   {"top_p": 0.5, "top_k": 5}, {"top_p": 1.0}, {"top_p": 1e-4}):
        checks.assert_close(submission.filter_logits(logits, **kwargs),
                            reference.filter_logits(logits, **kwargs), atol=1e-6, rtol=1e-5,
                            what=f"filter_logits({kwargs})")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("kwargs", [{"temperature": 0.0}, {"top_k": 0}, {"top_p": 0.0},
                                    {"top_p": 1.5}], ids=["t0", "k0", "p0", "p1.5"])
@pytest.mark.hint("filter_logits must raise ValueError for temperature <= 0, top_k < 1 and "
                  "top_p outside (0, 1].")
def test_filter_logits_rejects_bad_settings(submission, kwargs):
    checks.assert_raises(ValueError, submission.filter_logits, torch.zeros(2, 5), **kwargs)


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("With top_k=1 only the largest logit survives: generation is greedy, always "
                  "the arg-max of the logits at the last position.")
@pytest.mark.parametrize("use_cache", [False, True])
def test_top_k_one_is_greedy(submission, reference, seed, rng, use_cache):
    model = student_gpt(submission, reference, seed)
    prompt = torch.randint(0, GPT["vocab_size"], (2, 5), generator=rng)
    n_new = 30  # runs past block_size: the context must be cropped to the last block_size tokens
    got = model.generate(prompt, n_new, top_k=1, use_cache=use_cache, seed=1)
    checks.assert_shape(got, (2, 5 + n_new), what="generated ids")
    idx = prompt
    for _ in range(n_new):
        logits = model(idx[:, -GPT["block_size"]:])  # the student's own logits
        idx = torch.cat([idx, logits[:, -1].argmax(dim=-1, keepdim=True)], dim=1)
    checks.assert_close(got, idx, atol=0, rtol=0, what="top_k=1 generation vs greedy decoding")


@pytest.mark.points(3)
@pytest.mark.category("invariant")
@pytest.mark.hint("With the cache, feed the whole prompt once, then only the newest token; the "
                  "sampled sequence must equal the one without the cache for the same seed.")
def test_cache_and_no_cache_generate_the_same(submission, reference, seed, rng):
    model = student_gpt(submission, reference, seed)
    prompt = torch.randint(0, GPT["vocab_size"], (3, 4), generator=rng)
    for kwargs in ({"top_k": 1}, {"temperature": 1.0}, {"top_p": 0.9, "temperature": 0.8}):
        a = model.generate(prompt, 18, use_cache=True, seed=seed % 1000, **kwargs)
        b = model.generate(prompt, 18, use_cache=False, seed=seed % 1000, **kwargs)
        checks.assert_close(a, b, atol=0, rtol=0, failure_class="invariant",
                            what=f"generation with vs without the cache ({kwargs})")
        checks.expect(torch.equal(a[:, :4], prompt), "value", "the prompt must be kept in front")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Sample with torch.multinomial from the softmax of the filtered logits, with a "
                  "torch.Generator seeded by `seed`: the same seed gives the same text, and the "
                  "samples follow the model's distribution.")
def test_sampling_follows_the_distribution(submission, reference, seed, rng):
    model = student_gpt(submission, reference, seed)
    prompt = torch.randint(0, GPT["vocab_size"], (1, 6), generator=rng).repeat(3000, 1)
    out = model.generate(prompt, 1, use_cache=False, seed=seed % 1000)
    again = model.generate(prompt, 1, use_cache=False, seed=seed % 1000)
    checks.assert_close(out, again, atol=0, rtol=0, failure_class="invariant",
                        what="two generations with the same seed")
    probs = torch.softmax(model(prompt[:1])[0, -1].double(), dim=-1)
    counts = torch.bincount(out[:, -1], minlength=GPT["vocab_size"]).double()
    # chi-square-like check on the likely tokens: each count within 5 binomial sigmas
    n = counts.sum()
    sigma = (n * probs * (1 - probs)).sqrt()
    worst = float(((counts - n * probs).abs() / (sigma + 1e-9))[probs > 0.01].max())
    checks.expect(worst < 5, "value", "sampled token frequencies do not follow the softmax of "
                  "the logits")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["prompt-longer-than-context", "empty-prompt"])
@pytest.mark.hint("generate must raise ValueError for a prompt longer than block_size or empty.")
def test_generate_rejects_bad_prompt(submission, reference, seed, case):
    model = student_gpt(submission, reference, seed)
    T = GPT["block_size"] + 1 if case == "prompt-longer-than-context" else 0
    checks.assert_raises(ValueError, model.generate, torch.zeros(1, T, dtype=torch.int64), 3)
