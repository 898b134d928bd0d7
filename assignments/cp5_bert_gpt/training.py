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
    raise NotImplementedError("TODO: random starts; windows and windows shifted by one")


def lm_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean next-token cross-entropy (nats): logits (B, T, V), targets (B, T) int64 -> scalar.
    Positions whose target is -100 are ignored."""
    raise NotImplementedError("TODO: flatten the positions, cross-entropy")


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
    raise NotImplementedError("TODO: decoupled decay, moment updates, bias-corrected step")


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
        raise NotImplementedError("TODO: per parameter with a grad: state, adamw_update")


def configure_optimizer(model: nn.Module, lr: float, weight_decay: float = 0.1,
                        betas: tuple[float, float] = (0.9, 0.95), eps: float = 1e-8) -> AdamW:
    """:class:`AdamW` over ``model``'s parameters in two groups: first every parameter with
    ``ndim >= 2`` (weight matrices and embeddings) with ``weight_decay``, then every other one
    (biases, LayerNorm weights) with weight decay 0; each group in ``named_parameters()`` order.
    """
    raise NotImplementedError("TODO: split by ndim, decay only the matrices")


def lr_at(step: int, max_lr: float, min_lr: float, warmup_steps: int, max_steps: int) -> float:
    r"""Learning rate at ``step`` (from 0): linear warm-up, then cosine decay to ``min_lr``.

    - step < warmup_steps: $\eta_{\max} (step + 1) / warmup\_steps$;
    - warmup_steps <= step <= max_steps: with $r = (step - warmup) / (max\_steps - warmup)$,
      $\eta_{\min} + \tfrac12 (1 + \cos \pi r)(\eta_{\max} - \eta_{\min})$;
    - step > max_steps: $\eta_{\min}$.

    Raises ValueError unless 0 <= warmup_steps < max_steps.
    """
    raise NotImplementedError("TODO: three pieces: warm-up, cosine, floor")


def clip_gradients(grads: list[Tensor], max_norm: float) -> tuple[list[Tensor], float]:
    r"""Rescale the gradients so that their global L2 norm is at most ``max_norm``.

    Total norm $n = \sqrt{\sum_i \lVert g_i \rVert^2}$ over all gradients together; each is
    multiplied by $\min(1, \text{max\_norm} / (n + 10^{-6}))$ (``clip_grad_norm_``'s rule).
    Returns (the rescaled gradients as new tensors, n before clipping as a float).
    """
    raise NotImplementedError("TODO: one norm over all gradients, one common scale")


def clip_model_gradients(model: nn.Module, max_norm: float) -> float:
    """Clip the ``.grad`` of every parameter of ``model`` that has one, in place, with
    :func:`clip_gradients`; returns the total norm before clipping."""
    raise NotImplementedError("TODO: collect the grads, clip together, write back")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor,
               grad_clip: float | None = None, lr: float | None = None) -> float:
    """One optimisation step of a language model on the batch x, y (B, T): set every group's
    learning rate to ``lr`` if given, clear the gradients, :func:`lm_loss` of ``model(x)``
    against y, backpropagate, clip the gradients with :func:`clip_model_gradients` if
    ``grad_clip`` is given, and step. Returns the loss before the step."""
    raise NotImplementedError("TODO: (lr), zero_grad, forward, loss, backward, (clip), step")


@torch.no_grad()
def evaluate(model: nn.Module, data: Tensor, block_size: int, batch_size: int = 32) -> dict:
    """Mean next-token loss and perplexity of ``model`` on the stream ``data`` (N,).

    Cut data into consecutive non-overlapping windows x = data[s : s + block_size], y =
    data[s + 1 : s + block_size + 1] for s = 0, block_size, 2 block_size, ... while the window
    fits; average the cross-entropy over every predicted token (run the windows in batches of
    ``batch_size``, in eval mode, restoring the model's mode afterwards).
    Returns {"loss": mean nats per token, "perplexity": exp(loss)}, floats.
    """
    raise NotImplementedError("TODO: all windows, summed token losses / token count")


def save_checkpoint(path: str, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    step: int = 0) -> None:
    """Save ``{"model": model.state_dict(), "optimizer": optimizer.state_dict() or None,
    "step": step}`` to ``path`` with ``torch.save``."""
    raise NotImplementedError("TODO: one dict, torch.save")


def load_checkpoint(path: str, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None) -> int:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer`` if given, from the
    saved optimizer state) with ``torch.load(path, weights_only=True)``; returns the step."""
    raise NotImplementedError("TODO: torch.load, then load_state_dict into each")


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
    raise NotImplementedError("TODO: seed, model, optimizer, loop of get_batch + train_step")
