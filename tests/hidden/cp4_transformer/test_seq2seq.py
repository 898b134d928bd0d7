"""Hidden tests: label-smoothed loss, the learning-rate schedule, greedy decoding and beam
search (against an exhaustive search on a tiny model)."""

import itertools

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

PAD, BOS, EOS = 0, 1, 2
TINY = {"d_model": 8, "num_heads": 2, "num_encoder_layers": 1, "num_decoder_layers": 1,
        "d_ff": 16, "dropout": 0.0, "max_len": 8, "pad_id": PAD}


def ref_model(reference, seed, vocab, sharpen=4.0):
    """A random reference model whose logits are scaled up, so its choices are clear-cut."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = reference.Transformer(vocab, vocab, **TINY).eval()
    with torch.no_grad():
        model.out_proj.weight.mul_(sharpen)
        model.out_proj.bias.mul_(sharpen)
    return model


def student_copy(submission, ref, vocab):
    model = submission.Transformer(vocab, vocab, **TINY)
    want = ref.state_dict()
    checks.expect(sorted(model.state_dict()) == sorted(want), "shape",
                  "Transformer parameter names differ from the docstring's")
    model.load_state_dict(want)
    model.eval()
    return model


def sequence_logp(ref, src, hyps):
    """log p(y | src) under ``ref`` for each hypothesis (a list of token lists), in one batch:
    decoder inputs BOS y_1 .. y_{n-1}, padded at the end (causality makes the padding moot)."""
    width = max(len(y) for y in hyps)
    tgt_in = torch.full((len(hyps), width), PAD)
    labels = torch.full((len(hyps), width), PAD)
    for i, y in enumerate(hyps):
        tgt_in[i, :len(y)] = torch.tensor([BOS, *y[:-1]])
        labels[i, :len(y)] = torch.tensor(y)
    with torch.no_grad():
        logp = torch.log_softmax(ref(src[None].expand(len(hyps), -1), tgt_in).double(), dim=-1)
    picked = logp.gather(-1, labels[..., None]).squeeze(-1)  # (N, width)
    real = torch.arange(width)[None, :] < torch.tensor([len(y) for y in hyps])[:, None]
    return picked.masked_fill(~real, 0.0).sum(dim=1).tolist()


def all_hypotheses(vocab, max_len):
    """Every token sequence beam search can return: ending in EOS, or max_len long."""
    others = [t for t in range(vocab) if t != EOS]
    hyps = [[*p, EOS] for n in range(max_len) for p in itertools.product(others, repeat=n)]
    return hyps + [list(p) for p in itertools.product(others, repeat=max_len)]


def penalty(n, alpha):
    return ((5 + n) / 6) ** alpha


# -- label-smoothed cross-entropy -----------------------------------------------------------
LOSS_CASES = [((4, 6, 9), 0.1, 0), ((12, 5), 0.0, 0), ((3, 7, 4), 0.3, 3), ((2, 5, 6), 0.2, -100)]


def loss_inputs(rng, shape, ignore):
    logits = torch.randn(shape, generator=rng, dtype=torch.float64) * 2
    targets = torch.randint(0, shape[-1], shape[:-1], generator=rng)
    drop = torch.rand(shape[:-1], generator=rng) < 0.3
    return logits, targets.masked_fill(drop, ignore)


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Per token: (1 - eps) * NLL of the target + eps * mean over the vocabulary "
                  "of -log p; then average over the tokens whose target is not ignore_index "
                  "(divide by their count, not by all tokens).")
def test_label_smoothed_loss_values(submission, reference, rng):
    for shape, eps, ignore in LOSS_CASES:
        logits, targets = loss_inputs(rng, shape, ignore)
        got = submission.label_smoothed_cross_entropy(logits, targets, eps, ignore)
        want = reference.label_smoothed_cross_entropy(logits, targets, eps, ignore)
        checks.assert_close(got, want, atol=1e-10, rtol=1e-9,
                            what=f"loss with smoothing {eps}, logits {shape}")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("Ignored (padding) positions must not change the loss, whatever their logits.")
def test_label_smoothed_loss_ignores_padding(submission, rng):
    logits, targets = loss_inputs(rng, (4, 6, 9), PAD)
    base = submission.label_smoothed_cross_entropy(logits, targets, 0.1, PAD)
    noisy = logits.clone()
    noisy[targets == PAD] = torch.randn(noisy[targets == PAD].shape, generator=rng,
                                        dtype=torch.float64) * 10
    checks.assert_close(submission.label_smoothed_cross_entropy(noisy, targets, 0.1, PAD), base,
                        atol=1e-10, rtol=1e-9, failure_class="invariant",
                        what="loss after changing the logits at padded positions")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Build the loss from differentiable operations; ignored positions get zero "
                  "gradient.")
def test_label_smoothed_loss_gradient(submission, reference, rng):
    for shape, eps, ignore in LOSS_CASES[:3]:
        logits, targets = loss_inputs(rng, shape, ignore)
        checks.assert_grads_close(
            vjp(submission.label_smoothed_cross_entropy, logits, targets, eps, ignore,
                cotangent=torch.tensor(1.0, dtype=torch.float64)),
            vjp(reference.label_smoothed_cross_entropy, logits, targets, eps, ignore,
                cotangent=torch.tensor(1.0, dtype=torch.float64)), atol=1e-10, rtol=1e-8)


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Raise ValueError when targets' shape is not logits' shape without the last "
                  "axis, or smoothing is outside [0, 1).")
def test_label_smoothed_loss_rejects_bad_input(submission):
    checks.assert_raises(ValueError, submission.label_smoothed_cross_entropy,
                         torch.zeros(2, 3, 5), torch.zeros(2, 4, dtype=torch.int64))
    checks.assert_raises(ValueError, submission.label_smoothed_cross_entropy,
                         torch.zeros(2, 5), torch.zeros(2, dtype=torch.int64), 1.5)


# -- learning-rate schedule -----------------------------------------------------------------
@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("lr = factor * d_model^-0.5 * min(step^-0.5, step * warmup^-1.5): it rises "
                  "linearly until step == warmup, then decays like 1/sqrt(step).")
def test_noam_lr_values(submission, reference):
    for d, warmup, factor in ((512, 4000, 1.0), (64, 100, 0.5), (32, 7, 2.0)):
        for step in (1, 2, warmup // 2, warmup - 1, warmup, warmup + 1, 3 * warmup, 10 ** 5):
            step = max(step, 1)
            got = submission.noam_lr(step, d, warmup, factor)
            want = reference.noam_lr(step, d, warmup, factor)
            checks.assert_close(torch.tensor(float(got), dtype=torch.float64),
                                torch.tensor(want, dtype=torch.float64), atol=0, rtol=1e-9,
                                what=f"noam_lr(step={step}, d_model={d}, warmup={warmup})")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("Steps are counted from 1: noam_lr raises ValueError for step < 1 (0^-0.5 "
                  "is infinite) and for warmup < 1.")
def test_noam_lr_rejects_bad_step(submission):
    checks.assert_raises(ValueError, submission.noam_lr, 0, 64, 100)
    checks.assert_raises(ValueError, submission.noam_lr, 10, 64, 0)


# -- decoding ------------------------------------------------------------------------------
def goes_on_after_eos(reference, model, src, out):
    """True when a row of ``out`` that ended early would go on with a token other than PAD if
    it were not padded (so a decoder that forgets to pad gives another output)."""
    with torch.no_grad():
        mask = reference.padding_mask(src, PAD)
        memory = model.encode(src, mask)
        for r, row in enumerate(out.tolist()):
            if EOS in row[:-1]:
                ys = torch.tensor([[BOS, *row[:row.index(EOS) + 1]]])
                if int(model.decode(ys, memory[r:r + 1], mask[r:r + 1])[0, -1].argmax()) != PAD:
                    return True
    return False


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Start from BOS, append the argmax of the last position's logits each step; "
                  "after a row emits EOS, fill it with pad_id. Return (B, max_len) without BOS.")
def test_greedy_decode_matches_reference(submission, reference, seed, rng):
    vocab = 5  # EOS is likely
    src = torch.randint(3, vocab, (16, 6), generator=rng)
    for k in range(200):  # a model whose rows end at different steps (a deterministic search)
        ref = ref_model(reference, seed + k, vocab, sharpen=1.5)
        want = reference.greedy_decode(ref, src, 7, BOS, EOS)
        ends = [row.index(EOS) if EOS in row else 7 for row in want.tolist()]
        if len(set(ends)) > 1 and min(ends) < 6 and goes_on_after_eos(reference, ref, src, want):
            break
    model = student_copy(submission, ref, vocab)
    checks.assert_close(submission.greedy_decode(model, src, 7, BOS, EOS), want,
                        what="greedy decoding")


@pytest.mark.points(3)
@pytest.mark.category("value")
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.hint("With a beam as wide as the number of hypotheses nothing is pruned, so beam "
                  "search must return the best finished hypothesis by log p(y) / lp(n), with "
                  "lp(n) = ((5 + n) / 6)^alpha and n counting the EOS token.")
def test_wide_beam_finds_exhaustive_optimum(submission, reference, seed, rng, alpha):
    vocab, max_len = 4, 4
    hyps = all_hypotheses(vocab, max_len)  # 121 sequences
    for trial in range(2):
        src = torch.randint(3, vocab, (5,), generator=rng)
        for k in range(50):  # with alpha > 0: a model where the penalty changes the winner
            ref = ref_model(reference, seed + 100 * trial + k, vocab, sharpen=2.0)
            logps = sequence_logp(ref, src, hyps)
            scores = [lp / penalty(len(y), alpha) for y, lp in zip(hyps, logps, strict=True)]
            best = max(scores)
            raw_best = max(range(len(hyps)), key=logps.__getitem__)
            if alpha == 0 or scores[raw_best] < best - 1e-3:
                break
        model = student_copy(submission, ref, vocab)
        tokens, score = submission.beam_search(model, src, len(hyps), max_len, BOS, EOS,
                                               alpha=alpha)
        y = [int(t) for t in tokens]
        checks.expect(y in hyps, "value", f"beam search returned an impossible hypothesis {y}")
        mine = scores[hyps.index(y)]
        checks.expect(mine > best - 1e-4, "value",
                      f"returned hypothesis scores {mine:.5f}, the optimum {best:.5f}")
        checks.assert_close(torch.tensor(float(score)), torch.tensor(best), atol=1e-4, rtol=0,
                            what="returned score")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("With beam_size=1 only the single most probable extension survives each step: "
                  "beam search must return exactly what greedy decoding produces (up to EOS).")
def test_beam_size_one_is_greedy(submission, reference, seed, rng):
    vocab = 6
    ref = ref_model(reference, seed, vocab)
    model = student_copy(submission, ref, vocab)
    for _ in range(4):
        src = torch.randint(3, vocab, (6,), generator=rng)
        greedy = reference.greedy_decode(ref, src[None], 7, BOS, EOS)[0].tolist()
        if EOS in greedy:
            greedy = greedy[:greedy.index(EOS) + 1]
        tokens, _ = submission.beam_search(model, src, 1, 7, BOS, EOS)
        checks.expect([int(t) for t in tokens] == greedy, "value",
                      f"beam_size=1 gave {[int(t) for t in tokens]}, greedy {greedy}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("alpha", [0.6, 1.5])
@pytest.mark.hint("The returned score is the sum of the hypothesis' token log-probabilities "
                  "divided by the length penalty ((5 + n) / 6)^alpha, n including EOS.")
def test_beam_score_uses_length_penalty(submission, reference, seed, rng, alpha):
    vocab = 6
    ref = ref_model(reference, seed, vocab, sharpen=1.0)
    model = student_copy(submission, ref, vocab)
    src = torch.randint(3, vocab, (6,), generator=rng)
    tokens, score = submission.beam_search(model, src, 3, 6, BOS, EOS, alpha=alpha)
    y = [int(t) for t in tokens]
    want = sequence_logp(ref, src, [y])[0] / penalty(len(y), alpha)
    checks.assert_close(torch.tensor(float(score)), torch.tensor(want), atol=1e-4, rtol=0,
                        what="score of the returned hypothesis")


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.hint("beam_search takes one source sequence (1-D) and beam_size >= 1; raise "
                  "ValueError otherwise.")
def test_beam_search_rejects_bad_arguments(submission, reference, seed):
    model = student_copy(submission, ref_model(reference, seed, 5), 5)
    src = torch.tensor([3, 4, 3])
    checks.assert_raises(ValueError, submission.beam_search, model, src, 0, 5, BOS, EOS)
    checks.assert_raises(ValueError, submission.beam_search, model, src[None], 2, 5, BOS, EOS)
