"""Training utilities for the language models: batches, AdamW, the learning-rate schedule,
gradient clipping, evaluation, checkpoints, and the miniGPT training loop."""

from __future__ import annotations

import math  # noqa: F401 (used in the solution)
from collections.abc import Callable
from pathlib import Path  # noqa: F401 (used in the solution)

import torch
import torch.nn.functional as F  # noqa: F401 (used in the solution)
from torch import Tensor, nn

from .model import MiniGPT


def get_batch(data: Tensor, block_size: int, batch_size: int,
              generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """A batch of random windows of the token stream ``data`` (N,) int64.

    Draw ``batch_size`` start positions i uniformly from every valid one, 0..N-block_size-1,
    with ``torch.randint(..., generator=generator)``; row b of x is
    ``data[i_b : i_b + block_size]`` and row b of y is the same window shifted by one,
    ``data[i_b + 1 : i_b + block_size + 1]`` (the next token at every position).
    Returns x, y, both (batch_size, block_size) int64.
    Raises ValueError if N < block_size + 1.
    """
    # BEGIN SOLUTION: random starts; windows and windows shifted by one
    if data.ndim != 1 or data.shape[0] < block_size + 1:
        raise ValueError(f"need a 1-D stream of at least block_size + 1 = {block_size + 1} "
                         f"tokens, got shape {tuple(data.shape)}")
    starts = torch.randint(0, data.shape[0] - block_size, (batch_size,), generator=generator)
    x = torch.stack([data[i:i + block_size] for i in starts.tolist()])
    y = torch.stack([data[i + 1:i + block_size + 1] for i in starts.tolist()])
    return x, y
    # END SOLUTION


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy (nats): logits (B, T, V), targets (B, T) int64 -> scalar.
    Positions whose target is -100 are ignored."""
    # BEGIN SOLUTION: flatten the positions, cross-entropy
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                           ignore_index=-100)
    # END SOLUTION


def adamw_update(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: int,
                 lr: float, betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> tuple[Tensor, Tensor, Tensor]:
    r"""One AdamW step for one parameter, as new tensors (``torch.optim.AdamW``'s rule).

    With t = ``step`` (the step being taken, counting from 1), $g$ = grad, $\eta$ = lr:

    $$\theta \leftarrow \theta (1 - \eta\lambda), \quad m \leftarrow \beta_1 m + (1-\beta_1) g,
    \quad v \leftarrow \beta_2 v + (1-\beta_2) g^2,$$
    $$\hat m = m / (1-\beta_1^t), \quad \hat v = v / (1-\beta_2^t), \quad
    \theta \leftarrow \theta - \eta\, \hat m / (\sqrt{\hat v} + \epsilon).$$

    The decay is decoupled: it shrinks the weights directly and never enters m or v.
    Returns (new param, new exp_avg m, new exp_avg_sq v), all shaped like param.
    """
    # BEGIN SOLUTION: decoupled decay, moment updates, bias-corrected step
    beta1, beta2 = betas
    param = param * (1 - lr * weight_decay)
    exp_avg = beta1 * exp_avg + (1 - beta1) * grad
    exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    m_hat = exp_avg / (1 - beta1 ** step)
    v_hat = exp_avg_sq / (1 - beta2 ** step)
    return param - lr * m_hat / (v_hat.sqrt() + eps), exp_avg, exp_avg_sq
    # END SOLUTION


class AdamW(torch.optim.Optimizer):
    """AdamW from scratch: :func:`adamw_update` applied to every parameter with a gradient.

    State per parameter: ``step`` (int), ``exp_avg`` and ``exp_avg_sq`` (zeros at first).
    Each param group may set its own ``lr`` and ``weight_decay``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.95),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "eps": eps,
                                  "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> None:  # type: ignore[override]
        # BEGIN SOLUTION: per parameter with a grad: state, adamw_update
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                state["step"] += 1
                new_p, state["exp_avg"], state["exp_avg_sq"] = adamw_update(
                    p, p.grad, state["exp_avg"], state["exp_avg_sq"], state["step"],
                    group["lr"], group["betas"], group["eps"], group["weight_decay"])
                p.copy_(new_p)
        # END SOLUTION


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1,
                        betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8) -> AdamW:
    """:class:`AdamW` over ``model``'s parameters in two groups: first every parameter with
    ``ndim >= 2`` (weight matrices and embeddings) with ``weight_decay``, then every other one
    (biases, LayerNorm weights) with weight decay 0; each group in ``named_parameters()`` order.
    """
    # BEGIN SOLUTION: split by ndim, decay only the matrices
    params = [p for p in model.parameters() if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    return AdamW([{"params": decay, "weight_decay": weight_decay},
                  {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas, eps=eps)
    # END SOLUTION


def lr_at(step: int, max_lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> float:
    r"""Learning rate at ``step`` (from 0): linear warm-up, then cosine decay to ``min_lr``.

    - step < warmup_steps: $\eta_{\max} (step + 1) / warmup\_steps$;
    - warmup_steps <= step <= max_steps: with $r = (step - warmup) / (max\_steps - warmup)$,
      $\eta_{\min} + \tfrac12 (1 + \cos \pi r)(\eta_{\max} - \eta_{\min})$;
    - step > max_steps: $\eta_{\min}$.

    Raises ValueError unless 0 <= warmup_steps < max_steps.
    """
    # BEGIN SOLUTION: three pieces: warm-up, cosine, floor
    if not 0 <= warmup_steps < max_steps:
        raise ValueError(f"need 0 <= warmup_steps < max_steps, got {warmup_steps}, {max_steps}")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step > max_steps:
        return min_lr
    ratio = (step - warmup_steps) / (max_steps - warmup_steps)
    return min_lr + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (max_lr - min_lr)
    # END SOLUTION


def clip_gradients(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], float]:
    r"""Rescale the gradients so that their global L2 norm is at most ``max_norm``.

    Total norm $n = \sqrt{\sum_i \lVert g_i \rVert^2}$ over all gradients together; each is
    multiplied by $\min(1, \text{max\_norm} / (n + 10^{-6}))$ (``clip_grad_norm_``'s rule).
    Returns (the rescaled gradients as new tensors, n before clipping as a float).
    """
    # BEGIN SOLUTION: one norm over all gradients, one common scale
    total = torch.sqrt(sum((g.double() ** 2).sum() for g in grads)) if grads else torch.zeros(())
    scale = min(1.0, max_norm / (float(total) + 1e-6))
    return [g * scale for g in grads], float(total)
    # END SOLUTION


def clip_model_gradients(model: nn.Module, max_norm: float) -> float:
    """Clip the ``.grad`` of every parameter of ``model`` that has one, in place, with
    :func:`clip_gradients`; returns the total norm before clipping."""
    # BEGIN SOLUTION: collect the grads, clip together, write back
    params = [p for p in model.parameters() if p.grad is not None]
    clipped, total = clip_gradients([p.grad for p in params], max_norm)
    for p, g in zip(params, clipped, strict=True):
        p.grad = g
    return total
    # END SOLUTION


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
               grad_clip: float | None = None, lr: float | None = None) -> float:
    """One optimisation step of a language model on the batch x, y (B, T): set every group's
    learning rate to ``lr`` if given, clear the gradients, :func:`lm_loss` of ``model(x)``
    against y, backpropagate, clip the gradients with :func:`clip_model_gradients` if
    ``grad_clip`` is given, and step. Returns the loss before the step."""
    # BEGIN SOLUTION: (lr), zero_grad, forward, loss, backward, (clip), step
    if lr is not None:
        for group in optimizer.param_groups:
            group["lr"] = lr
    optimizer.zero_grad()
    loss = lm_loss(model(x), y)
    loss.backward()
    if grad_clip is not None:
        clip_model_gradients(model, grad_clip)
    optimizer.step()
    return loss.item()
    # END SOLUTION


@torch.no_grad()
def evaluate(model: nn.Module, data: Tensor, block_size: int, batch_size: int = 32) -> dict:
    """Mean next-token loss and perplexity of ``model`` on the stream ``data`` (N,).

    Cut data into consecutive non-overlapping windows x = data[s : s + block_size], y =
    data[s + 1 : s + block_size + 1] for s = 0, block_size, 2 block_size, ... while the window
    fits; average the cross-entropy over every predicted token (run the windows in batches of
    ``batch_size``, in eval mode, restoring the model's mode afterwards).
    Returns {"loss": mean nats per token, "perplexity": exp(loss)}, floats.
    """
    # BEGIN SOLUTION: all windows, summed token losses / token count
    was_training = model.training
    model.eval()
    starts = list(range(0, data.shape[0] - block_size, block_size))
    total, count = 0.0, 0
    for b in range(0, len(starts), batch_size):
        chunk = starts[b:b + batch_size]
        x = torch.stack([data[s:s + block_size] for s in chunk])
        y = torch.stack([data[s + 1:s + block_size + 1] for s in chunk])
        logits = model(x)
        total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                       reduction="sum"))
        count += y.numel()
    model.train(was_training)
    loss = total / count
    return {"loss": loss, "perplexity": math.exp(loss)}
    # END SOLUTION


def save_checkpoint(path: str, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0) -> None:
    """Save ``{"model": model.state_dict(), "optimizer": optimizer.state_dict() or None,
    "step": step}`` to ``path`` with ``torch.save``."""
    # BEGIN SOLUTION: one dict, torch.save
    torch.save({"model": model.state_dict(),
                "optimizer": None if optimizer is None else optimizer.state_dict(),
                "step": step}, Path(path))
    # END SOLUTION


def load_checkpoint(path: str, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> int:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer`` if given, from the
    saved optimizer state) with ``torch.load(path, weights_only=True)``; returns the step."""
    # BEGIN SOLUTION: torch.load, then load_state_dict into each
    ckpt = torch.load(Path(path), weights_only=True)
    model.load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt["optimizer"] is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    return int(ckpt["step"])
    # END SOLUTION


def train_gpt(tokens: Tensor, vocab_size: int, *, seed: int = 0, steps: int = 300,
              block_size: int = 32, n_layer: int = 2, n_head: int = 2, n_embd: int = 48,
              batch_size: int = 32, max_lr: float = 1e-2, min_lr: float = 1e-3,
              warmup_steps: int = 20, weight_decay: float = 0.1, grad_clip: float = 1.0,
              on_step: Callable[[int, float], None] | None = None) -> MiniGPT:
    """Train a :class:`MiniGPT` on the token stream ``tokens`` (N,) int64 and return it.

    Seed torch with ``seed``; build ``MiniGPT(vocab_size, block_size, n_layer, n_head,
    n_embd)``, its optimizer with :func:`configure_optimizer` (``max_lr``, ``weight_decay``);
    then ``steps`` times: a batch from :func:`get_batch`, :func:`train_step` with the learning
    rate :func:`lr_at` (warm-up ``warmup_steps``, cosine to ``min_lr`` at ``steps``) and
    ``grad_clip``, then ``on_step(step, loss)`` if given. Returns the model in eval mode.
    """
    # BEGIN SOLUTION: seed, model, optimizer, loop of get_batch + train_step
    torch.manual_seed(seed)
    model = MiniGPT(vocab_size, block_size, n_layer, n_head, n_embd)
    optimizer = configure_optimizer(model, max_lr, weight_decay)
    model.train()
    for step in range(steps):
        x, y = get_batch(tokens, block_size, batch_size)
        lr = lr_at(step, max_lr, min_lr, warmup_steps, steps)
        loss = train_step(model, optimizer, x, y, grad_clip=grad_clip, lr=lr)
        if on_step is not None:
            on_step(step, loss)
    return model.eval()
    # END SOLUTION
