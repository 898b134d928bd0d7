"""Hidden tests: batches, the loss, AdamW against torch.optim.AdamW, the schedule, clipping
against clip_grad_norm_, train_step, evaluation, checkpoints, and overfitting one batch."""

import math

import pytest
import torch

from autograder.grading import checks

GPT = {"vocab_size": 23, "block_size": 12, "n_layer": 2, "n_head": 2, "n_embd": 16}


def seeded(seed, build):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def student_gpt(submission, reference, seed):
    ref = seeded(seed, lambda: reference.MiniGPT(**GPT))
    model = submission.MiniGPT(**GPT)
    model.load_state_dict(ref.state_dict())
    return model, ref


def batch(rng, B=4, T=GPT["block_size"], V=GPT["vocab_size"]):
    return (torch.randint(0, V, (B, T), generator=rng), torch.randint(0, V, (B, T), generator=rng))


@pytest.mark.points(2)
@pytest.mark.category("invariant")
@pytest.mark.hint("Each row of x is a window data[i:i+T] of the stream and y the same window "
                  "shifted by one; every start 0..N-T-1 must be possible.")
def test_get_batch_windows(submission, rng):
    N, T = 20, 5
    data = torch.randperm(1000, generator=rng)[:N]  # distinct values: a window fixes its start
    x, y = submission.get_batch(data, T, 3000)
    checks.assert_shape(x, (3000, T), what="x")
    checks.assert_shape(y, (3000, T), what="y")
    where = {int(v): i for i, v in enumerate(data)}
    starts = torch.tensor([where.get(int(v), -1) for v in x[:, 0]])
    checks.expect(bool((starts >= 0).all()), "value", "x holds values that are not in data")
    windows = torch.stack([data[s:s + T] for s in starts.clamp(0, N - T).tolist()])
    checks.assert_close(x, windows, atol=0, rtol=0, what="x rows as windows of data")
    shifted = torch.stack([data[s + 1:s + T + 1] for s in starts.clamp(0, N - T - 1).tolist()])
    checks.assert_close(y, shifted, atol=0, rtol=0, what="y = x shifted by one")
    seen = set(starts.tolist())
    checks.expect(seen == set(range(N - T)), "value",
                  "the window starts do not cover every valid position exactly")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Mean cross-entropy over all B*T positions, skipping targets equal to -100.")
def test_lm_loss(submission, reference, rng):
    logits = torch.randn(3, 7, 11, generator=rng)
    targets = torch.randint(0, 11, (3, 7), generator=rng)
    targets[0, :3] = -100
    checks.assert_close(submission.lm_loss(logits, targets), reference.lm_loss(logits, targets),
                        atol=1e-6, rtol=1e-5, what="lm_loss")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.hint("AdamW: decay the weights by (1 - lr * weight_decay) outside the moments, then "
                  "the bias-corrected Adam step with t counted from 1.")
def test_adamw_update_matches_torch(submission, rng):
    p0 = torch.randn(6, 5, generator=rng, dtype=torch.float64)
    grads = [torch.randn(6, 5, generator=rng, dtype=torch.float64) for _ in range(4)]
    for lr, betas, wd in ((1e-2, (0.9, 0.95), 0.1), (3e-3, (0.8, 0.99), 0.0)):
        q = p0.clone().requires_grad_()
        opt = torch.optim.AdamW([q], lr=lr, betas=betas, eps=1e-8, weight_decay=wd)
        p, m, v = p0.clone(), torch.zeros_like(p0), torch.zeros_like(p0)
        for t, g in enumerate(grads, start=1):
            q.grad = g.clone()
            opt.step()
            p, m, v = submission.adamw_update(p, g, m, v, t, lr, betas, 1e-8, wd)
            checks.assert_close(p, q.detach(), atol=1e-10, rtol=1e-8,
                                what=f"parameter after step {t} (lr={lr}, wd={wd})")


@pytest.mark.points(3)
@pytest.mark.category("training")
@pytest.mark.hint("configure_optimizer: weight decay on parameters with ndim >= 2 only; biases and "
                  "LayerNorm weights get 0. train_step: zero_grad, loss, backward, clip, step.")
def test_train_steps_match_torch_adamw(submission, reference, seed, rng):
    model, ref = student_gpt(submission, reference, seed)
    opt = submission.configure_optimizer(model, 1e-2, weight_decay=0.5)
    decay = [p for p in ref.parameters() if p.ndim >= 2]
    rest = [p for p in ref.parameters() if p.ndim < 2]
    ref_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.5},
                                 {"params": rest, "weight_decay": 0.0}],
                                lr=1e-2, betas=(0.9, 0.95), eps=1e-8)
    for step in range(3):
        x, y = batch(rng)
        loss = submission.train_step(model, opt, x, y)
        ref_opt.zero_grad()
        expected = reference.lm_loss(ref(x), y)
        expected.backward()
        ref_opt.step()
        checks.assert_close(torch.tensor(loss), expected.detach(), atol=1e-5, rtol=1e-5,
                            what=f"loss of step {step + 1}")
    checks.assert_close(model.state_dict(), ref.state_dict(), atol=1e-5, rtol=1e-4,
                        what="parameters after three steps")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Linear warm-up max_lr*(step+1)/warmup_steps, then cosine from max_lr down to "
                  "min_lr at max_steps, then min_lr.")
def test_lr_schedule_values(submission, reference):
    for args in ((1e-3, 1e-4, 10, 100), (0.5, 0.0, 0, 7), (3e-4, 3e-5, 3, 4)):
        steps = list(range(0, args[3] + 5))
        got = torch.tensor([submission.lr_at(s, *args) for s in steps], dtype=torch.float64)
        expected = torch.tensor([reference.lr_at(s, *args) for s in steps], dtype=torch.float64)
        checks.assert_close(got, expected, atol=1e-12, rtol=1e-9, what=f"lr_at(step, *{args})")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("One norm over all gradients together (sqrt of the sum of squares), then "
                  "multiply each by min(1, max_norm / (norm + 1e-6)).")
def test_clip_gradients_matches_clip_grad_norm(submission, rng):
    for max_norm in (0.5, 1e3):
        grads = [torch.randn(s, generator=rng) for s in ((4, 3), (7,), (2, 2, 2))]
        params = [torch.zeros_like(g, requires_grad=True) for g in grads]
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        got, got_norm = submission.clip_gradients(grads, max_norm)
        checks.assert_close(torch.tensor(float(got_norm)), norm.double(), atol=1e-5, rtol=1e-5,
                            what="total norm", check_dtype=False)
        checks.assert_close(got, [p.grad for p in params], atol=1e-6, rtol=1e-5,
                            what=f"clipped gradients (max_norm={max_norm})")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("evaluate averages the cross-entropy over every token of the consecutive "
                  "non-overlapping windows, and returns exp of it as the perplexity.")
def test_evaluate_loss_and_perplexity(submission, reference, seed, rng):
    model, ref = student_gpt(submission, reference, seed)
    data = torch.randint(0, GPT["vocab_size"], (200,), generator=rng)
    got = submission.evaluate(model, data, GPT["block_size"], batch_size=4)
    expected = reference.evaluate(ref, data, GPT["block_size"], batch_size=4)
    checks.assert_close(torch.tensor([got["loss"], got["perplexity"]], dtype=torch.float64),
                        torch.tensor([expected["loss"], expected["perplexity"]],
                                     dtype=torch.float64), atol=1e-5, rtol=1e-5,
                        what="evaluate(...) loss and perplexity")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("save_checkpoint stores the model's and optimizer's state_dicts and the step; "
                  "load_checkpoint puts them back and returns the step.")
def test_checkpoint_round_trip(submission, reference, seed, rng):
    model, _ = student_gpt(submission, reference, seed)
    opt = submission.configure_optimizer(model, 1e-2)
    x, y = batch(rng)
    submission.train_step(model, opt, x, y)
    submission.save_checkpoint("ckpt.pt", model, opt, 17)
    fresh = submission.MiniGPT(**GPT)
    fresh_opt = submission.configure_optimizer(fresh, 1e-2)
    step = submission.load_checkpoint("ckpt.pt", fresh, fresh_opt)
    checks.expect(step == 17, "value", f"load_checkpoint returned step {step}, expected 17")
    checks.assert_close(fresh.state_dict(), model.state_dict(), atol=0, rtol=0,
                        failure_class="invariant", what="parameters after loading")
    x, y = batch(rng)
    a = submission.train_step(model, opt, x, y)
    b = submission.train_step(fresh, fresh_opt, x, y)
    checks.assert_close(fresh.state_dict(), model.state_dict(), atol=1e-6, rtol=1e-5,
                        failure_class="invariant",
                        what="parameters one step after loading (optimizer state restored?)")
    checks.assert_close(torch.tensor(a), torch.tensor(b), atol=1e-6, what="losses")


OVERFIT_LOSS = 0.05  # reference over 20 seeds: at most 0.005 after 150 steps


@pytest.mark.points(2)
@pytest.mark.category("training")
@pytest.mark.timeout(60)
@pytest.mark.hint("The model should memorise one small batch: check that every parameter is "
                  "trained and that train_step really updates the weights.")
def test_overfit_one_batch(submission, rng):
    torch.manual_seed(0)
    model = submission.MiniGPT(**GPT)
    opt = submission.configure_optimizer(model, 1e-2, weight_decay=0.0)
    x, y = batch(rng, B=2)
    x[:, 0] = torch.tensor([0, 1])  # distinct prefixes: every target is determined by its context
    losses = [submission.train_step(model, opt, x, y, 1.0) for _ in range(150)]
    checks.expect(math.isfinite(losses[-1]) and losses[-1] < OVERFIT_LOSS, "threshold",
                  f"loss after 150 steps on one batch is {losses[-1]:.3f}, not near zero")
