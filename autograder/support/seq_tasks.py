"""Synthetic sequence-to-sequence tasks: reversal, sorting and multi-digit addition.

Every task shares one vocabulary of 14 tokens::

    0 <pad>   1 <s> (start)   2 </s> (end)   3 +   4..13 the digits 0..9

A data set is a pair of padded int64 tensors of fixed width (the widest example the task's
settings allow, so the shapes do not depend on the draw):

- ``src`` (N, S): the input tokens, then ``PAD``; no start or end token.
- ``tgt`` (N, T + 2): ``BOS``, the output tokens, ``EOS``, then ``PAD``. A seq2seq model is
  trained with teacher forcing on ``tgt[:, :-1]`` (decoder input) and ``tgt[:, 1:]`` (what it
  must predict at each position).

Tasks (lengths are drawn uniformly, so every batch mixes lengths):

- ``"reverse"``: n digits (n in [min_len, max_len]) -> the same digits in reverse order.
- ``"sort"``: n digits -> the same digits in ascending order.
- ``"add"``: ``a + b`` with a and b of 1..max_digits digits (the number of digits uniform,
  then the value uniform among numbers of that many digits, no leading zeros) -> the digits of
  a + b, most significant first.

Everything is deterministic given ``seed`` (an int or a ``torch.Generator``).
"""

from __future__ import annotations

import torch

PAD, BOS, EOS, PLUS = 0, 1, 2, 3
DIGIT0 = 4  # token of the digit 0; digit d is DIGIT0 + d
VOCAB_SIZE = 14
TOKENS = ("<pad>", "<s>", "</s>", "+", *"0123456789")
TASKS = ("reverse", "sort", "add")
DEFAULTS = {"reverse": {"min_len": 1, "max_len": 8}, "sort": {"min_len": 1, "max_len": 8},
            "add": {"max_digits": 3}}


def task_shapes(task: str, **settings: int) -> tuple[int, int]:
    """``(S, T)``: the widths of ``src`` and of the output digits (``tgt`` is T + 2 wide)."""
    s = _settings(task, settings)
    if task == "add":
        return 2 * s["max_digits"] + 1, s["max_digits"] + 1
    return s["max_len"], s["max_len"]


def generate(task: str, n: int, seed: int | torch.Generator = 0,
             **settings: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` examples of ``task``: ``(src (n, S), tgt (n, T + 2))`` int64, padded with PAD.

    ``settings`` override :data:`DEFAULTS` (``min_len``/``max_len`` for reverse and sort,
    ``max_digits`` for add). Raises ValueError for an unknown task or setting, n < 1, or
    lengths outside 1 <= min_len <= max_len.
    """
    s = _settings(task, settings)
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    g = seed if isinstance(seed, torch.Generator) else torch.Generator().manual_seed(int(seed))
    if task == "add":
        D = s["max_digits"]
        a, b = _numbers(n, D, g), _numbers(n, D, g)
        da, ka = _digit_matrix(a, D)  # (n, D), (n,)
        db, kb = _digit_matrix(b, D)
        dsum, ksum = _digit_matrix(a + b, D + 1)
        # the digits of b start right after '+': scatter them into a buffer with a spare column
        src = torch.full((n, 2 * D + 2), PAD, dtype=torch.int64)
        src[:, :D] = da
        src[torch.arange(n), ka] = PLUS
        pos = ka[:, None] + 1 + torch.arange(D)  # (n, D)
        pos = torch.where(torch.arange(D) < kb[:, None], pos, 2 * D + 1)
        src.scatter_(1, pos, db)
        return src[:, :2 * D + 1], _target(dsum, ksum)
    L = s["max_len"]
    lengths = torch.randint(s["min_len"], L + 1, (n,), generator=g)  # (n,)
    values = torch.randint(0, 10, (n, L), generator=g) + DIGIT0  # (n, L)
    real = torch.arange(L) < lengths[:, None]  # (n, L)
    src = values.masked_fill(~real, PAD)
    if task == "reverse":
        out = values.gather(1, (lengths[:, None] - 1 - torch.arange(L)).clamp(min=0))
    else:  # padding sorts last
        out = values.masked_fill(~real, DIGIT0 + 10).sort(dim=1).values
    return src, _target(out.masked_fill(~real, PAD), lengths)


def _target(out: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(n, T + 2): BOS, the first ``lengths`` tokens of out (n, T) (PAD after them), EOS."""
    n, T = out.shape
    tgt = torch.full((n, T + 2), PAD, dtype=torch.int64)
    tgt[:, 0] = BOS
    tgt[:, 1:T + 1] = out
    tgt[torch.arange(n), lengths + 1] = EOS
    return tgt


def exact_match(pred: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
    """Per example, whether ``pred`` equals the target up to and including its first EOS.

    pred: (N, L) generated tokens without the start token (anything after the first EOS is
    ignored); tgt: (N, T + 2) as returned by :func:`generate`. Returns (N,) bool.
    """
    want = tgt[:, 1:]  # (N, T + 1): outputs, EOS, PAD
    width = want.shape[1]
    if pred.shape[1] < width:
        pred = torch.cat([pred, torch.full((pred.shape[0], width - pred.shape[1]), PAD,
                                           dtype=pred.dtype)], dim=1)
    pred = pred[:, :width].clone()
    after_eos = (pred == EOS).long().cumsum(dim=1) - (pred == EOS).long() > 0
    pred[after_eos] = PAD
    return (pred == want).all(dim=1)


def to_text(tokens: torch.Tensor | list[int]) -> str:
    """Readable text for one sequence: digits and '+' joined, specials as <s> </s>, no PAD."""
    ids = tokens.tolist() if isinstance(tokens, torch.Tensor) else list(tokens)
    return " ".join(TOKENS[i] for i in ids if i != PAD)


def _settings(task: str, settings: dict[str, int]) -> dict[str, int]:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    unknown = set(settings) - set(DEFAULTS[task])
    if unknown:
        raise ValueError(f"task {task!r} takes settings {sorted(DEFAULTS[task])}, "
                         f"got {sorted(unknown)}")
    s = {**DEFAULTS[task], **settings}
    if task == "add" and not 1 <= s["max_digits"] <= 9:
        raise ValueError(f"max_digits must be in [1, 9], got {s['max_digits']}")
    if task != "add" and not 1 <= s["min_len"] <= s["max_len"]:
        raise ValueError(f"need 1 <= min_len <= max_len, got {s['min_len']}, {s['max_len']}")
    return s


def _numbers(n: int, max_digits: int, g: torch.Generator) -> torch.Tensor:
    """(n,) int64: a digit count uniform in [1, max_digits], then a uniform such number."""
    k = torch.randint(1, max_digits + 1, (n,), generator=g)
    lo = torch.where(k == 1, torch.zeros_like(k), 10 ** (k - 1))
    hi = 10 ** k  # exclusive
    u = torch.rand(n, generator=g, dtype=torch.float64)
    return lo + ((u * (hi - lo)).long() % (hi - lo))  # % guards against u * span rounding up


def _digit_matrix(x: torch.Tensor, width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Decimal digits of x (n,) as tokens, most significant first, left-aligned in (n, width)
    and padded with PAD, and the number of digits (n,) (0 has one digit)."""
    k = torch.ones_like(x)
    for p in range(1, width):
        k += (x >= 10 ** p).long()
    shift = k[:, None] - 1 - torch.arange(width)  # (n, width): power of ten of each digit
    digits = (x[:, None] // 10 ** shift.clamp(min=0)) % 10 + DIGIT0
    return digits.masked_fill(shift < 0, PAD), k
