"""Checkpoint 3: autoencoders and a variational autoencoder that generates digits (README.md)."""

from .losses import (
    bernoulli_nll,
    corrupt,
    kl_divergence,
    log_normal,
    mse_loss,
    reduce_batch,
    reparameterize,
)
from .models import (
    VAE,
    Autoencoder,
    ConvAutoencoder,
    MLPAutoencoder,
    check_images,
    check_latent_dim,
)
from .training import minibatches, train_autoencoder, train_vae

__all__ = [
    "VAE",
    "Autoencoder",
    "ConvAutoencoder",
    "MLPAutoencoder",
    "bernoulli_nll",
    "check_images",
    "check_latent_dim",
    "corrupt",
    "kl_divergence",
    "log_normal",
    "minibatches",
    "mse_loss",
    "reduce_batch",
    "reparameterize",
    "train_autoencoder",
    "train_vae",
]
