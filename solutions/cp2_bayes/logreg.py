r"""The discriminative counterpart: multinomial logistic regression in PyTorch, with L2.

Logistic regression models $p(c \mid x)$ directly, $p(c \mid x) = \mathrm{softmax}(W x + b)_c$,
and fits W (C, V) and b (C,) by minimising the regularised cross-entropy

$$\mathcal{L}(W, b) = \frac1n \sum_{i=1}^n \left[\log \sum_{c} e^{z_{ic}} - z_{i y_i}\right]
+ \frac{\lambda}{2} \lVert W \rVert_F^2, \qquad z = X W^\top + b,$$

(the bias is not penalised). Tensors are float64; X is (n, V), y (n,) int64 in [0, C).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn


def _as_inputs(X: Any, y: Any | None = None) -> tuple[Tensor, Tensor | None]:
    """X as a float64 tensor (n, V) and y as an int64 tensor (n,) (given; ndarrays accepted)."""
    X = torch.as_tensor(X, dtype=torch.float64)
    if X.ndim != 2:
        raise ValueError(f"expected X of shape (n, V), got {tuple(X.shape)}")
    if y is not None:
        y = torch.as_tensor(y).to(torch.int64)
    return X, y


def _check(weight: Tensor, bias: Tensor, X: Tensor, y: Tensor) -> None:
    """Raise ValueError unless weight (C, V), bias (C,), X (n, V), y (n,) with y in [0, C)."""
    # BEGIN SOLUTION: check every shape, and that the labels lie in [0, C)
    if weight.ndim != 2 or tuple(bias.shape) != (weight.shape[0],):
        raise ValueError(f"need weight (C, V) and bias (C,), got {tuple(weight.shape)} and "
                         f"{tuple(bias.shape)}")
    if X.shape[1] != weight.shape[1]:
        raise ValueError(f"X has {X.shape[1]} features, weight expects {weight.shape[1]}")
    if y.shape != (X.shape[0],):
        raise ValueError(f"X has {X.shape[0]} rows but y has shape {tuple(y.shape)}")
    C = weight.shape[0]
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= C):
        raise ValueError(f"labels must lie in [0, {C}), got [{int(y.min())}, {int(y.max())}]")
    # END SOLUTION


def logreg_loss(weight: Tensor, bias: Tensor, X: Any, y: Any, l2: float = 0.0) -> Tensor:
    r"""The regularised cross-entropy $\mathcal{L}(W, b)$ of the module docstring, a 0-d tensor.

    weight (C, V), bias (C,), X (n, V), y (n,) int64. Differentiable in weight and bias (build
    it from torch operations; ``torch.logsumexp`` is allowed, the library cross-entropy and
    (log-)softmax are not). Raises ValueError on mismatched shapes or a label outside [0, C).
    """
    X, y = _as_inputs(X, y)
    _check(weight, bias, X, y)
    # BEGIN SOLUTION: mean(logsumexp(z) - z[y]) + l2/2 ||W||^2
    z = X @ weight.T + bias  # (n, C)
    nll = torch.logsumexp(z, dim=1) - z.gather(1, y[:, None]).squeeze(1)  # (n,)
    return nll.mean() + 0.5 * l2 * (weight**2).sum()
    # END SOLUTION


def logreg_gradient(weight: Tensor, bias: Tensor, X: Any, y: Any, l2: float = 0.0
                    ) -> tuple[Tensor, Tensor]:
    r"""The gradient of :func:`logreg_loss`, written by hand (no autograd).

    With $P = \mathrm{softmax}(z)$ row-wise and $Y$ the one-hot labels (n, C),
    $\partial\mathcal{L}/\partial W = (P - Y)^\top X / n + \lambda W$ (C, V) and
    $\partial\mathcal{L}/\partial b = \sum_i (P - Y)_i / n$ (C,). Returns the pair
    (grad_weight, grad_bias). Same checks as :func:`logreg_loss`.
    """
    X, y = _as_inputs(X, y)
    _check(weight, bias, X, y)
    # BEGIN SOLUTION: G = (softmax(z) - onehot) / n; G^T X + l2 W
    with torch.no_grad():
        z = X @ weight.T + bias  # (n, C)
        P = torch.exp(z - torch.logsumexp(z, dim=1, keepdim=True))  # (n, C)
        P[torch.arange(X.shape[0]), y] -= 1.0  # P - Y
        G = P / X.shape[0]
        return G.T @ X + l2 * weight, G.sum(dim=0)
    # END SOLUTION


class LogisticRegression(nn.Module):
    """Multinomial logistic regression: parameters ``weight`` (C, V) and ``bias`` (C,), float64,
    both initialised to zero (the loss is convex, so no random start is needed).

    ``forward(X)`` returns the logits $X W^\\top + b$ (n, C); ``predict(X)`` the (n,) int64
    argmax. These two are given.
    """

    def __init__(self, num_features: int, num_classes: int):
        super().__init__()
        if num_features < 1 or num_classes < 2:
            raise ValueError(f"need num_features >= 1 and num_classes >= 2, got "
                             f"{num_features}, {num_classes}")
        self.weight = nn.Parameter(torch.zeros(num_classes, num_features, dtype=torch.float64))
        self.bias = nn.Parameter(torch.zeros(num_classes, dtype=torch.float64))

    def forward(self, X: Any) -> Tensor:
        X, _ = _as_inputs(X)
        return X @ self.weight.T + self.bias  # (n, C)

    def predict(self, X: Any) -> Tensor:
        with torch.no_grad():
            return self(X).argmax(dim=1)


def train_logistic_regression(X: Any, y: Any, num_classes: int, *, l2: float = 1e-2,
                              lr: float = 0.05, epochs: int = 100, batch_size: int | None = None,
                              seed: int = 0,
                              on_epoch: Callable[[int, float], None] | None = None
                              ) -> LogisticRegression:
    """Fit a :class:`LogisticRegression` by (mini-batch) gradient descent with Adam.

    X (n, V), y (n,) int64 in [0, num_classes). Builds ``LogisticRegression(V, num_classes)``
    and ``torch.optim.Adam(model.parameters(), lr=lr)``, then for each of ``epochs`` epochs:

    - ``batch_size=None``: one full-batch step on all n documents;
    - otherwise: shuffle the rows with ``torch.randperm(n, generator=g)``, g a
      ``torch.Generator`` seeded once with ``seed`` before the first epoch, and take one step on
      each consecutive slice of ``batch_size`` rows (the last one may be shorter).

    A step is: zero the gradients, ``logreg_loss(model.weight, model.bias, Xb, yb, l2)``,
    backward, ``optimizer.step()``. After each epoch calls ``on_epoch(epoch, loss)`` if given,
    with the epoch's mean step loss as a float. Returns the trained model; the same arguments
    always give the same model. Raises ValueError on mismatched shapes, labels outside
    [0, num_classes), ``epochs < 1`` or ``batch_size < 1``.
    """
    X, y = _as_inputs(X, y)
    # BEGIN SOLUTION: model, Adam, epochs over (shuffled) batches
    if epochs < 1 or (batch_size is not None and batch_size < 1):
        raise ValueError(f"need epochs >= 1 and batch_size >= 1 (or None), got {epochs}, "
                         f"{batch_size}")
    model = LogisticRegression(X.shape[1], num_classes)
    _check(model.weight, model.bias, X, y)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    for epoch in range(epochs):
        if batch_size is None:
            batches = [torch.arange(n)]
        else:
            order = torch.randperm(n, generator=g)
            batches = list(order.split(batch_size))
        total = 0.0
        for idx in batches:
            optimizer.zero_grad()
            loss = logreg_loss(model.weight, model.bias, X[idx], y[idx], l2)
            loss.backward()
            optimizer.step()
            total += loss.item()
        if on_epoch is not None:
            on_epoch(epoch, total / len(batches))
    return model
    # END SOLUTION
