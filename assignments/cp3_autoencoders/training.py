"""Training loops for the autoencoders and the VAE (minibatch Adam, seeded, reproducible)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .losses import bernoulli_nll, corrupt, mse_loss  # noqa: F401 - for your code
from .models import (  # noqa: F401 - for your code
    VAE,
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    check_images,
)

KINDS = ("mlp", "conv")
LOSSES = ("bce", "mse")


def minibatches(n: int, batch_size: int, generator: torch.Generator) -> list[Tensor]:
    """A fresh random order of range(n), cut into index batches of ``batch_size`` (the last one
    may be smaller). Given (not a task)."""
    return list(torch.randperm(n, generator=generator).split(batch_size))


def train_autoencoder(x_train: Tensor, *, kind: str = "mlp", latent_dim: int = 8,
                      loss: str = "bce", noise_std: float = 0.0, seed: int = 0,
                      epochs: int = 40, batch_size: int = 128, lr: float = 5e-3,
                      on_epoch: Callable[[int, float], None] | None = None) -> Autoencoder:
    """Train an autoencoder on x_train (N, 1, 8, 8) in [0, 1] and return it (in eval mode).

    1. ``torch.manual_seed(seed)``, then build ``MLPAutoencoder(latent_dim)`` for kind "mlp" or
       ``ConvAutoencoder(latent_dim)`` for kind "conv", and ``torch.optim.Adam`` with ``lr``.
    2. Make ``g = torch.Generator().manual_seed(seed)``; every epoch visits the images in the
       order :func:`minibatches` (N, batch_size, g) gives.
    3. For each batch x: the input is x itself, or, when ``noise_std`` > 0 (a *denoising*
       autoencoder), ``corrupt(x, torch.randn(x.shape, generator=g), noise_std)``. The loss
       compares the reconstruction of the input with the *clean* x: "bce" is
       ``bernoulli_nll(decode_logits(encode(input)), x)``, "mse" is
       ``mse_loss(forward(input), x)``. Zero the gradients, backpropagate, step.
    4. After each epoch call ``on_epoch(epoch, mean batch loss of the epoch)`` if given.

    Raises ValueError for a kind or loss not listed, noise_std < 0, or images not (N, 1, 8, 8).
    """
    raise NotImplementedError("TODO: check, seed, build, loop over epochs and minibatches")


def train_vae(x_train: Tensor, *, latent_dim: int = 8, hidden: int = 128, seed: int = 0,
              epochs: int = 40, batch_size: int = 128, lr: float = 5e-3,
              on_epoch: Callable[[int, float], None] | None = None) -> VAE:
    """Train a VAE on x_train (N, 1, 8, 8) in [0, 1] by minimising ``negative_elbo`` (mean over
    the batch) and return it (in eval mode).

    ``torch.manual_seed(seed)``, build ``VAE(latent_dim, hidden)`` and ``torch.optim.Adam`` with
    ``lr``; ``g = torch.Generator().manual_seed(seed)``; every epoch visits the images in the
    order :func:`minibatches` (N, batch_size, g) gives, and each batch x draws its noise
    ``eps = torch.randn(len(x), latent_dim, generator=g)`` for ``negative_elbo(x, eps)``. After
    each epoch call ``on_epoch(epoch, mean batch loss of the epoch)`` if given.

    Raises ValueError if the images are not (N, 1, 8, 8) or latent_dim < 1.
    """
    raise NotImplementedError("TODO: check, seed, build, loop with fresh eps per batch")
