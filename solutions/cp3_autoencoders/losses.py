"""Losses and Gaussian helpers for autoencoders and the VAE, written from scratch.

Shapes: B is the batch, d the latent dimension, K the number of importance samples. Images are
``(B, 1, 8, 8)`` with pixels in [0, 1]. Every loss is *summed over the pixels (or latent
dimensions) of one image*; ``reduction="mean"`` then averages over the batch (a scalar, shape
``()``), ``reduction="none"`` returns one value per image (shape ``(B,)``). The functions are
pure: they return new tensors and never modify their arguments.
"""

from __future__ import annotations

import math

import torch  # noqa: F401 - the stubs need it once filled in
from torch import Tensor

REDUCTIONS = ("mean", "none")
LOG_2PI = math.log(2 * math.pi)


def reduce_batch(per_image: Tensor, reduction: str) -> Tensor:
    """Per-image values (B,) -> their batch mean (shape ()) for "mean", unchanged for "none".

    Given (not a task). Raises ValueError for any other ``reduction``.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
    return per_image.mean() if reduction == "mean" else per_image


def _same_shape(a: Tensor, b: Tensor, names: str) -> None:
    if a.shape != b.shape or a.ndim < 1:
        raise ValueError(f"{names} must have the same shape (B, ...), got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}")


def mse_loss(x_hat: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    r"""Squared reconstruction error, summed over the pixels of each image.

    $\ell_b = \sum_i (\hat x_{b,i} - x_{b,i})^2$ over every entry i of image b;
    "mean" returns $\frac1B \sum_b \ell_b$, "none" the vector $\ell$ of shape (B,).

    x_hat, x: the same shape (B, ...), floating point. Raises ValueError if the shapes differ or
    ``reduction`` is not "mean" or "none".
    """
    # BEGIN SOLUTION: squared errors summed per image, then reduce_batch
    _same_shape(x_hat, x, "x_hat and x")
    per_image = (x_hat - x).pow(2).flatten(1).sum(dim=1)  # (B,)
    return reduce_batch(per_image, reduction)
    # END SOLUTION


def bernoulli_nll(logits: Tensor, x: Tensor, reduction: str = "mean") -> Tensor:
    r"""Bernoulli cross-entropy of the targets x under pixel probabilities sigmoid(logits).

    With $p = \sigma(l)$: $\ell_b = -\sum_i [x_i \log p_i + (1 - x_i) \log(1 - p_i)]$, which
    equals $\sum_i [\mathrm{softplus}(l_i) - x_i l_i]$ with
    $\mathrm{softplus}(l) = \log(1 + e^l) = \max(l, 0) + \log(1 + e^{-|l|})$. Use the last form:
    it is finite for logits of any size (``log(sigmoid(l))`` is -inf once sigmoid rounds to 0).
    "mean" returns $\frac1B \sum_b \ell_b$, "none" the vector (B,).

    logits, x: the same shape (B, ...); x in [0, 1] (grey values are allowed). Raises ValueError
    if the shapes differ or ``reduction`` is unknown.
    """
    # BEGIN SOLUTION: stable softplus(l) - x * l, summed per image, then reduce
    _same_shape(logits, x, "logits and x")
    softplus = logits.clamp(min=0) + torch.log1p(torch.exp(-logits.abs()))
    per_image = (softplus - x * logits).flatten(1).sum(dim=1)  # (B,)
    return reduce_batch(per_image, reduction)
    # END SOLUTION


def kl_divergence(mu: Tensor, logvar: Tensor, reduction: str = "mean") -> Tensor:
    r"""KL divergence from $q = \mathcal N(\mu, \mathrm{diag}(e^{\mathrm{logvar}}))$ to the prior
    $\mathcal N(0, I)$, in closed form, summed over the latent dimensions.

    $\mathrm{KL}_b = \frac12 \sum_j \left(e^{v_{bj}} + \mu_{bj}^2 - 1 - v_{bj}\right)$ with
    $v$ = logvar. "mean" returns $\frac1B \sum_b \mathrm{KL}_b$, "none" the vector (B,).

    mu, logvar: (B, d). Raises ValueError if they are not both (B, d) of the same shape, or
    ``reduction`` is unknown.
    """
    # BEGIN SOLUTION: 0.5 * sum(exp(logvar) + mu^2 - 1 - logvar), then reduce
    if mu.ndim != 2:
        raise ValueError(f"mu must be (B, d), got {tuple(mu.shape)}")
    _same_shape(mu, logvar, "mu and logvar")
    per_image = 0.5 * (logvar.exp() + mu.pow(2) - 1.0 - logvar).sum(dim=1)  # (B,)
    return reduce_batch(per_image, reduction)
    # END SOLUTION


def log_normal(z: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    r"""Log-density of a diagonal Gaussian, summed over the last axis.

    $\log \mathcal N(z; \mu, \mathrm{diag}(e^{v})) = -\frac12 \sum_j \left(\log 2\pi + v_j +
    (z_j - \mu_j)^2 e^{-v_j}\right)$ with $v$ = logvar.

    z, mu, logvar: broadcastable shapes (..., d), for example z (K, B, d) with mu and logvar
    (B, d), or mu = logvar = zeros for the standard normal prior. Returns the broadcast shape
    without its last axis, e.g. (K, B).
    """
    # BEGIN SOLUTION: -0.5 * (log 2pi + logvar + (z - mu)^2 / var), summed
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar)).sum(dim=-1)
    # END SOLUTION


def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor | None = None) -> Tensor:
    r"""A sample of $\mathcal N(\mu, \mathrm{diag}(e^{\mathrm{logvar}}))$ by the
    reparameterisation trick: $z = \mu + \sigma \odot \varepsilon$ with
    $\sigma = e^{\mathrm{logvar}/2}$ and $\varepsilon \sim \mathcal N(0, I)$.

    mu, logvar: the same shape (..., d). eps: standard normal noise of a shape that broadcasts
    with mu, e.g. (B, d) or (K, B, d) for K samples per image; when None, draw it with
    ``torch.randn_like(mu)``. Returns z of the broadcast shape. z is differentiable with respect
    to mu and logvar; the noise is a constant, so no gradient flows into how it was drawn.
    Raises ValueError if mu and logvar differ in shape.
    """
    # BEGIN SOLUTION: mu + exp(0.5 * logvar) * eps, drawing eps if it is None
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and "
                         f"{tuple(logvar.shape)}")
    if eps is None:
        eps = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * eps
    # END SOLUTION


def corrupt(x: Tensor, noise: Tensor, std: float) -> Tensor:
    r"""Gaussian corruption for a denoising autoencoder: $\tilde x = \mathrm{clamp}(x + s\,n, 0, 1)$
    with $s$ = ``std`` and n = ``noise`` (standard normal, drawn by the caller).

    x, noise: the same shape; std >= 0. Returns a new tensor of x's shape with pixels in [0, 1].
    Raises ValueError if the shapes differ or std is negative.
    """
    # BEGIN SOLUTION: add std * noise, clamp to [0, 1]
    if std < 0:
        raise ValueError(f"std must be >= 0, got {std}")
    _same_shape(x, noise, "x and noise")
    return (x + std * noise).clamp(0.0, 1.0)
    # END SOLUTION
