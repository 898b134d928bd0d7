"""Training and inference for the seq2seq Transformer: the label-smoothed loss, the paper's
learning-rate schedule, greedy decoding, beam search, and a training loop for the synthetic
tasks of ``autograder.support.seq_tasks`` (reversal, sorting, addition).

Shapes: B batch, S source length, T target length, V vocabulary size.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from autograder.support import seq_tasks

from .transformer import Transformer, padding_mask  # noqa: F401 (padding_mask: decoding)

# The model and training settings train_seq2seq uses for every task (tiny: the graded tests
# train three models inside a time budget on two CPU cores). TRAIN_STEPS: optimisation steps
# per task, measured to reach 99% (reversal, sorting) and 95% (addition) held-out exact match on
# every seed tried (`python benchmarks/cp4_transformer.py --thresholds`).
MODEL_SETTINGS = {"d_model": 64, "num_heads": 4, "num_encoder_layers": 2,
                  "num_decoder_layers": 1, "d_ff": 128, "dropout": 0.0, "max_len": 16}
TRAIN_STEPS = {"reverse": 300, "sort": 600, "add": 1400}


def label_smoothed_cross_entropy(logits: Tensor, targets: Tensor, smoothing: float = 0.1,
                                 ignore_index: int = 0) -> Tensor:
    r"""Cross-entropy against the smoothed target distribution
    $q = (1 - \varepsilon)\,\mathrm{onehot}(y) + \varepsilon / V$, averaged over the tokens
    whose target is not ``ignore_index`` (the padding):

    $\ell_n = (1 - \varepsilon)(-\log p_{n, y_n}) + \varepsilon \cdot \frac1V \sum_v
    (-\log p_{n, v})$, loss $= \sum_{n: y_n \ne \text{ignore}} \ell_n / \#\{n: y_n \ne
    \text{ignore}\}$, with $p = \mathrm{softmax}(\text{logits})$ over the last axis and
    $\varepsilon$ = ``smoothing``. (``F.cross_entropy(..., label_smoothing=eps,
    ignore_index=...)`` computes the same; it is forbidden here.)

    logits: (..., V) floating; targets: (...) int64 (the same leading shape). Returns a scalar
    (shape ()); 0 when every target is ignored. Ignored positions contribute no gradient.
    Raises ValueError if the shapes do not match or smoothing is outside [0, 1).
    """
    # BEGIN SOLUTION: log-softmax; NLL and mean -log p; mask; average
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits (..., V) {tuple(logits.shape)} do not match targets "
                         f"{tuple(targets.shape)}")
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    keep = targets != ignore_index  # (...)
    logp = torch.log_softmax(logits, dim=-1)  # (..., V)
    nll = -logp.gather(-1, targets.masked_fill(~keep, 0).unsqueeze(-1)).squeeze(-1)  # (...)
    uniform = -logp.mean(dim=-1)  # (...)
    loss = (1.0 - smoothing) * nll + smoothing * uniform
    loss = torch.where(keep, loss, torch.zeros_like(loss))
    return loss.sum() / keep.sum().clamp(min=1)
    # END SOLUTION


def noam_lr(step: int, d_model: int, warmup: int = 4000, factor: float = 1.0) -> float:
    r"""The paper's learning rate at optimisation step ``step`` (counted from 1):
    $\mathrm{lr} = \text{factor} \cdot d^{-1/2} \cdot \min(\text{step}^{-1/2},\ \text{step}
    \cdot \text{warmup}^{-3/2})$: a linear warm-up over ``warmup`` steps, then decay as
    $1/\sqrt{\text{step}}$. Returns a Python float. Raises ValueError if step < 1, warmup < 1
    or d_model < 1.
    """
    # BEGIN SOLUTION
    if step < 1 or warmup < 1 or d_model < 1:
        raise ValueError(f"need step >= 1, warmup >= 1 and d_model >= 1, got step={step}, "
                         f"warmup={warmup}, d_model={d_model}")
    return factor * d_model ** -0.5 * min(step ** -0.5, step * warmup ** -1.5)
    # END SOLUTION


def make_scheduler(optimizer: torch.optim.Optimizer, d_model: int, warmup: int, factor: float,
                   total_steps: int, cooldown: float = 0.3) -> torch.optim.lr_scheduler.LambdaLR:
    r"""A scheduler setting the learning rate of step s (from 1) to :func:`noam_lr` times a
    linear cool-down over the last ``cooldown`` fraction of ``total_steps``:
    $\mathrm{lr}_s = \mathrm{noam}(s) \cdot \min(1, (N - s + 1) / (c N))$, N = total_steps,
    c = cooldown (0 keeps the paper's schedule unchanged). The paper's schedule alone ends these
    short runs at a learning rate of 3e-3 to 7e-3 (d_model 64, warm-up 100), where held-out
    accuracy still jumps by points from one step to the next; annealing to zero lets the last
    weights settle.

    Build the optimizer with ``lr=1.0`` and call ``scheduler.step()`` after each
    ``optimizer.step()``. Given (not a task).
    """
    if not 0.0 <= cooldown <= 1.0 or total_steps < 1:
        raise ValueError(f"need total_steps >= 1 and cooldown in [0, 1], got {total_steps}, "
                         f"{cooldown}")

    def lr(i: int) -> float:  # i = number of steps taken so far
        tail = (total_steps - i) / (cooldown * total_steps) if cooldown > 0 else 1.0
        return noam_lr(i + 1, d_model, warmup, factor) * min(1.0, max(tail, 0.0))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr)


@torch.no_grad()
def greedy_decode(model: Transformer, src: Tensor, max_len: int, bos_id: int,
                  eos_id: int) -> Tensor:
    """Greedy decoding: start every row from ``bos_id``, append the most probable next token
    (argmax of the last position's logits) ``max_len`` times, encoding the source once.

    Puts the model in eval mode (no dropout). src: (B, S) int64. Returns (B, max_len) int64:
    the generated tokens *without* the start token; in a row that has produced ``eos_id``,
    every later position holds ``model.pad_id``. May stop early once every row has ended.
    """
    # BEGIN SOLUTION: encode once; loop: decode, argmax, append, track ends
    model.eval()
    B = src.shape[0]
    src_mask = padding_mask(src, model.pad_id)  # (B, 1, 1, S)
    memory = model.encode(src, src_mask)  # (B, S, d)
    ys = torch.full((B, 1), bos_id, dtype=torch.int64, device=src.device)  # (B, 1)
    done = torch.zeros(B, dtype=torch.bool, device=src.device)
    out = torch.full((B, max_len), model.pad_id, dtype=torch.int64, device=src.device)
    for t in range(max_len):
        logits = model.decode(ys, memory, src_mask)[:, -1]  # (B, V)
        token = logits.argmax(dim=-1).masked_fill(done, model.pad_id)  # (B,)
        out[:, t] = token
        ys = torch.cat([ys, token[:, None]], dim=1)  # (B, t + 2)
        done |= token == eos_id
        if bool(done.all()):
            break
    return out
    # END SOLUTION


def length_penalty(length: int, alpha: float) -> float:
    r"""GNMT's length penalty $lp(n) = ((5 + n) / 6)^\alpha$; a hypothesis of n tokens (its
    end token included) is ranked by $\log p(y) / lp(n)$. Given (not a task)."""
    return ((5 + length) / 6) ** alpha


@torch.no_grad()
def beam_search(model: Transformer, src: Tensor, beam_size: int, max_len: int, bos_id: int,
                eos_id: int, alpha: float = 0.6) -> tuple[Tensor, float]:
    r"""Beam search for one source sequence, src: (S,) int64. Puts the model in eval mode.

    A hypothesis is a token sequence $y_1..y_n$ (no start token) with $\log p(y) = \sum_t
    \log \mathrm{softmax}(\text{logits}_t)_{y_t}$ over the whole vocabulary. Start from the
    empty hypothesis (decoder input: ``bos_id`` alone). At each step t = 1..max_len, extend
    every live hypothesis by every token, and keep the ``beam_size`` candidates with the
    highest $\log p$ (``torch.topk``). A kept candidate that ends in ``eos_id``, or that has
    reached ``max_len`` tokens, is *finished*; the others stay live. Stop early when the live
    beam is empty or ``beam_size`` hypotheses have finished.

    Returns ``(tokens (n,) int64, score)`` of the finished hypothesis with the highest score
    $\log p(y) / lp(n)$, :func:`length_penalty` with ``alpha`` (n counts the end token), score
    as a Python float. With beam_size 1 this is greedy decoding; with a beam at least as wide
    as the number of possible hypotheses, the exact optimum. Raises ValueError if beam_size <
    1, max_len < 1 or src is not 1-D.
    """
    # BEGIN SOLUTION: extend live prefixes by every token, topk, split
    if beam_size < 1 or max_len < 1 or src.ndim != 1:
        raise ValueError(f"need beam_size >= 1, max_len >= 1 and a 1-D src, got beam_size="
                         f"{beam_size}, max_len={max_len}, src {tuple(src.shape)}")
    model.eval()
    src = src[None]  # (1, S)
    src_mask = padding_mask(src, model.pad_id)  # (1, 1, 1, S)
    memory = model.encode(src, src_mask)  # (1, S, d)
    prefixes = torch.full((1, 1), bos_id, dtype=torch.int64, device=src.device)  # (n, t + 1)
    logps = torch.zeros(1, dtype=torch.float64, device=src.device)  # (n,)
    finished: list[tuple[Tensor, float]] = []
    for t in range(1, max_len + 1):
        n = prefixes.shape[0]
        logits = model.decode(prefixes, memory.expand(n, -1, -1),
                              src_mask.expand(n, -1, -1, -1))[:, -1]  # (n, V)
        V = logits.shape[-1]
        cand = (logps[:, None] + torch.log_softmax(logits.double(), dim=-1)).flatten()  # (n V,)
        top, idx = cand.topk(min(beam_size, cand.numel()))
        token = idx % V
        prefixes = torch.cat([prefixes[idx // V], token[:, None]], dim=1)  # (k, t + 1)
        ended = (token == eos_id) | (t == max_len)
        finished += [(p[1:], float(s)) for p, s in zip(prefixes[ended], top[ended], strict=True)]
        prefixes, logps = prefixes[~ended], top[~ended]
        if prefixes.shape[0] == 0 or len(finished) >= beam_size:
            break
    tokens, logp = max(finished, key=lambda h: h[1] / length_penalty(len(h[0]), alpha))
    return tokens, logp / length_penalty(len(tokens), alpha)
    # END SOLUTION


def train_seq2seq(task: str, *, seed: int = 0, steps: int | None = None,
                  batch_size: int = 128, warmup: int = 100, lr_factor: float = 1.0,
                  cooldown: float = 0.3, smoothing: float = 0.1,
                  on_step: Callable[[int, float], None] | None = None) -> Transformer:
    """Train a :class:`Transformer` on a task of ``seq_tasks`` ("reverse", "sort" or "add")
    and return it in eval mode.

    Seeds torch with ``seed``, builds ``Transformer(seq_tasks.VOCAB_SIZE,
    seq_tasks.VOCAB_SIZE, pad_id=seq_tasks.PAD, **MODEL_SETTINGS)`` and runs ``steps``
    (default ``TRAIN_STEPS[task]``) steps of Adam (betas (0.9, 0.98), eps 1e-9, the paper's)
    with :func:`make_scheduler` (``warmup``, ``lr_factor``, ``steps``, ``cooldown``). Each step
    draws a fresh batch of ``batch_size`` examples with ``seq_tasks.generate(task,
    batch_size, generator)`` from a ``torch.Generator`` seeded with ``seed``, and minimises
    :func:`label_smoothed_cross_entropy` (``smoothing``, padding ignored) of ``model(src,
    tgt[:, :-1])`` against ``tgt[:, 1:]``. Calls ``on_step(step, loss)`` after each step if
    given. Held-out exact match should reach 99% on reverse and sort and 95% on add.
    Raises ValueError for an unknown task.
    """
    # BEGIN SOLUTION: seed, model, Adam + schedule; loop: batch, loss, step
    if task not in seq_tasks.TASKS:
        raise ValueError(f"task must be one of {seq_tasks.TASKS}, got {task!r}")
    steps = TRAIN_STEPS[task] if steps is None else steps
    torch.manual_seed(seed)
    data = torch.Generator().manual_seed(seed)
    model = Transformer(seq_tasks.VOCAB_SIZE, seq_tasks.VOCAB_SIZE, pad_id=seq_tasks.PAD,
                        **MODEL_SETTINGS)
    optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
    scheduler = make_scheduler(optimizer, model.d_model, warmup, lr_factor, steps, cooldown)
    model.train()
    for step in range(steps):
        src, tgt = seq_tasks.generate(task, batch_size, data)
        logits = model(src, tgt[:, :-1])  # (B, T + 1, V)
        loss = label_smoothed_cross_entropy(logits, tgt[:, 1:], smoothing, seq_tasks.PAD)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        if on_step is not None:
            on_step(step, loss.item())
    return model.eval()
    # END SOLUTION


def exact_match_accuracy(model: Transformer, src: Tensor, tgt: Tensor) -> float:
    """Fraction of examples whose greedy decoding equals the target up to its end token.
    src (N, S), tgt (N, T + 2) from ``seq_tasks.generate``. Given (not a task)."""
    pred = greedy_decode(model, src, tgt.shape[1] - 1, seq_tasks.BOS, seq_tasks.EOS)
    return seq_tasks.exact_match(pred, tgt).double().mean().item()

