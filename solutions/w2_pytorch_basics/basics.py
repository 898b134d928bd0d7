"""PyTorch warm-up: softmax, cross-entropy, a linear layer and an MLP, written from scratch.

Shapes use B for the batch, C for the number of classes, and ``...`` for any leading dimensions.
The functions are pure: they return new tensors and never modify their arguments.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

REDUCTIONS = ("mean", "sum", "none")


def softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""Numerically stable softmax along ``dim``.

    $\mathrm{softmax}(x)_i = e^{x_i - m} / \sum_j e^{x_j - m}$ with $m = \max_j x_j$.

    x: any shape, floating point. Returns the same shape and dtype; the entries along ``dim``
    are in [0, 1] and sum to one. Subtracting the maximum m changes nothing mathematically but
    keeps ``exp`` from overflowing (``exp(89.)`` is already inf in float32).
    """
    # BEGIN SOLUTION: exp(x - max along dim), divided by its sum along dim
    e = (x - x.amax(dim=dim, keepdim=True)).exp()  # same shape as x, entries in (0, 1]
    return e / e.sum(dim=dim, keepdim=True)
    # END SOLUTION


def log_softmax(x: Tensor, dim: int = -1) -> Tensor:
    r"""Numerically stable log-softmax along ``dim`` (the log-sum-exp trick).

    $\log \mathrm{softmax}(x)_i = (x_i - m) - \log \sum_j e^{x_j - m}$ with $m = \max_j x_j$.

    x: any shape, floating point. Returns the same shape and dtype, every entry <= 0 and finite
    whenever x is finite (taking ``log`` of :func:`softmax` is not: tiny probabilities underflow
    to 0 and their log to -inf).
    """
    # BEGIN SOLUTION: (x - max) minus the log of the sum of exp(x - max)
    z = x - x.amax(dim=dim, keepdim=True)  # same shape as x, max along dim is 0
    return z - z.exp().sum(dim=dim, keepdim=True).log()
    # END SOLUTION


def cross_entropy(logits: Tensor, targets: Tensor, reduction: str = "mean") -> Tensor:
    r"""Cross-entropy between the softmax of ``logits`` and integer class ``targets``.

    $\ell_b = -\log \mathrm{softmax}(z_b)_{y_b}$; "mean" returns $\frac1B \sum_b \ell_b$, "sum"
    returns $\sum_b \ell_b$, "none" returns the vector $\ell$.

    logits: (B, C) floating point; targets: (B,) int64 with values in [0, C).
    Returns a scalar (shape ()) for "mean" and "sum", shape (B,) for "none"; dtype of logits.
    Raises ValueError if logits is not 2-D, targets is not 1-D of length B, a target lies outside
    [0, C), or reduction is not one of "mean", "sum", "none".
    """
    # BEGIN SOLUTION: check the inputs, then -log_softmax at each target
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    if logits.ndim != 2 or targets.ndim != 1 or targets.shape[0] != logits.shape[0]:
        raise ValueError(f"expected logits (B, C) and targets (B,), got logits "
                         f"{tuple(logits.shape)} and targets {tuple(targets.shape)}")
    C = logits.shape[1]
    if targets.numel() > 0 and (int(targets.min()) < 0 or int(targets.max()) >= C):
        raise ValueError(f"targets must lie in [0, {C}), got values in "
                         f"[{int(targets.min())}, {int(targets.max())}]")
    logp = log_softmax(logits, dim=-1)  # (B, C)
    nll = -logp.gather(1, targets.unsqueeze(1)).squeeze(1)  # (B,)
    if reduction == "mean":
        return nll.mean()
    if reduction == "sum":
        return nll.sum()
    return nll
    # END SOLUTION


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Affine map $y = x W^\top + b$, the computation inside ``nn.Linear``.

    x: (..., in); weight: (out, in); bias: (out,) or None. Returns (..., out).
    Raises ValueError if weight is not 2-D, x's last dimension is not in, or bias is not (out,).
    """
    # BEGIN SOLUTION: check the shapes, then x @ weight.T (+ bias)
    if weight.ndim != 2 or x.ndim < 1 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: x {tuple(x.shape)} does not fit weight "
                         f"{tuple(weight.shape)} (need x[..., in] and weight (out, in))")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"linear: bias {tuple(bias.shape)} should be ({weight.shape[0]},)")
    y = x @ weight.T  # (..., in) @ (in, out) -> (..., out)
    if bias is not None:
        y = y + bias  # broadcast (out,) over the leading dimensions
    return y
    # END SOLUTION


class MLP(nn.Module):
    r"""Multi-layer perceptron with ReLU: $h_0 = x$, $h_{l+1} = \mathrm{relu}(h_l W_l^\top + b_l)$,
    logits $= h_L W_L^\top + b_L$ with $L$ = ``num_hidden_layers`` (no ReLU on the logits).

    Layer sizes are ``[in_features] + [hidden_features] * num_hidden_layers + [out_features]``;
    ``num_hidden_layers=0`` is plain logistic regression. Parameters (these names are graded:
    the tests load weights by ``state_dict`` key):

    - ``weights.{l}``: ``nn.Parameter`` of shape (size[l + 1], size[l]), for l = 0..L
    - ``biases.{l}``: ``nn.Parameter`` of shape (size[l + 1],)

    held in two ``nn.ParameterList`` attributes ``weights`` and ``biases``, initialised like
    ``nn.Linear``: every entry uniform in $[-1/\sqrt{\mathrm{fan\_in}}, 1/\sqrt{\mathrm{fan\_in}}]$
    with fan_in = size[l], drawn from torch's global generator (so ``torch.manual_seed`` fixes it).
    Raises ValueError if a size is < 1 or ``num_hidden_layers`` < 0.
    """

    def __init__(self, in_features: int, hidden_features: int, out_features: int,
                 num_hidden_layers: int = 1):
        super().__init__()
        # BEGIN SOLUTION: check the sizes, create weights.{l} and biases.{l}
        if min(in_features, hidden_features, out_features) < 1 or num_hidden_layers < 0:
            raise ValueError(f"MLP sizes must be >= 1 and num_hidden_layers >= 0, got "
                             f"in={in_features}, hidden={hidden_features}, out={out_features}, "
                             f"num_hidden_layers={num_hidden_layers}")
        sizes = [in_features] + [hidden_features] * num_hidden_layers + [out_features]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
            bound = fan_in ** -0.5
            self.weights.append(nn.Parameter(torch.empty(fan_out, fan_in).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(fan_out).uniform_(-bound, bound)))
        # END SOLUTION

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, in_features) -> logits (B, out_features), using :func:`linear` and ReLU."""
        # BEGIN SOLUTION: linear layer by layer, ReLU between the layers
        h = x  # (B, in)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = linear(h, w, b)  # (B, size[i + 1])
            if i < last:
                h = torch.relu(h)
        return h  # (B, out)
        # END SOLUTION


def sgd_step(params: list[Tensor], grads: list[Tensor], lr: float,
             weight_decay: float = 0.0) -> list[Tensor]:
    r"""One step of plain stochastic gradient descent with L2 weight decay, as new tensors.

    $\theta' = \theta - \eta\,(g + \lambda\,\theta)$ for each parameter $\theta$ with gradient g,
    learning rate $\eta$ = ``lr`` and $\lambda$ = ``weight_decay`` (``torch.optim.SGD``'s rule).

    params, grads: equally long lists of tensors, grads[i] shaped like params[i].
    Returns a new list of new tensors shaped like params; the inputs are left unchanged
    (the grader receives copies, so in-place updates would be invisible to it).
    Raises ValueError if the lists differ in length or a gradient's shape differs from its
    parameter's.
    """
    # BEGIN SOLUTION: check the lists, then theta - lr * (g + wd * theta)
    if len(params) != len(grads):
        raise ValueError(f"got {len(params)} parameters but {len(grads)} gradients")
    for i, (p, g) in enumerate(zip(params, grads, strict=True)):
        if p.shape != g.shape:
            raise ValueError(f"gradient {i} has shape {tuple(g.shape)}, "
                             f"its parameter {tuple(p.shape)}")
    with torch.no_grad():
        return [p - lr * (g + weight_decay * p) for p, g in zip(params, grads, strict=True)]
    # END SOLUTION


def make_optimizer(model: nn.Module, lr: float, kind: str = "sgd") -> torch.optim.Optimizer:
    """A ``torch.optim`` optimizer over ``model.parameters()``: plain "sgd" or "adam".

    Given (not a task): the tests build optimizers for :func:`train_step` through it.
    """
    if kind == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr)
    if kind == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr)
    raise ValueError(f"kind must be 'sgd' or 'adam', got {kind!r}")


def train_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: Tensor, y: Tensor) -> float:
    """One optimisation step on the batch (x, y) with the loss :func:`cross_entropy` (mean).

    Clears the old gradients, computes the loss of ``model(x)`` against ``y``, backpropagates
    and lets ``optimizer`` update the parameters. x: (B, in); y: (B,) int64.
    Returns the loss before the update, as a Python float.
    """
    # BEGIN SOLUTION: zero_grad, forward, loss, backward, step
    optimizer.zero_grad()
    loss = cross_entropy(model(x), y)  # ()
    loss.backward()
    optimizer.step()
    return loss.item()
    # END SOLUTION


def train_moons(x_train: Tensor, y_train: Tensor, *, seed: int = 0, epochs: int = 200,
                lr: float = 0.02, hidden: int = 32,
                on_step: Callable[[int, float], None] | None = None) -> MLP:
    """Train a classifier for the two-moons data set and return it.

    Seeds torch with ``seed`` (the same call must give the same model), builds
    ``MLP(2, hidden, 2, num_hidden_layers=2)``, and runs ``epochs`` full-batch steps of
    :func:`train_step` with Adam at learning rate ``lr`` (see :func:`make_optimizer`). After each
    step, calls ``on_step(epoch, loss)`` if given (the training script draws its progress bar and
    loss curve with it).

    x_train: (N, 2) float32; y_train: (N,) int64 in {0, 1}. Returns the trained MLP, whose
    held-out accuracy on ``make_moons(noise=0.15)`` data should be at least 97%.
    """
    # BEGIN SOLUTION: seed, build the MLP and Adam, loop over train_step
    torch.manual_seed(seed)
    model = MLP(2, hidden, 2, num_hidden_layers=2)
    optimizer = make_optimizer(model, lr, kind="adam")
    for epoch in range(epochs):
        loss = train_step(model, optimizer, x_train, y_train)
        if on_step is not None:
            on_step(epoch, loss)
    return model
    # END SOLUTION


def accuracy(logits: Tensor, targets: Tensor) -> float:
    r"""Fraction of rows whose largest logit is at the target class.

    $\frac1B \sum_b [\arg\max_c z_{bc} = y_b]$. logits: (B, C); targets: (B,) int64.
    Returns a Python float in [0, 1].
    """
    # BEGIN SOLUTION: argmax over the classes, compare with targets, average
    return (logits.argmax(dim=-1) == targets).float().mean().item()
    # END SOLUTION
