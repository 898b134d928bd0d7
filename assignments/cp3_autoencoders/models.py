"""Autoencoders for 8x8 digit images: an MLP one, a convolutional one, and a VAE.

Images are ``(B, 1, 8, 8)`` floats with pixels in [0, 1]; codes are ``(B, d)`` with d =
``latent_dim``. Decoders produce *logits* (any real number per pixel); ``decode`` turns them into
pixel probabilities in [0, 1] with a sigmoid. Parameter names are graded: the tests load weights
into your models by ``state_dict`` key, so build the layers exactly as each docstring says
(``nn.Sequential`` numbers its entries from 0, and layers without parameters, such as ``nn.ReLU``,
still take a number).
"""

from __future__ import annotations

import torch  # noqa: F401 - the stubs need it once filled in
from torch import Tensor, nn

from .losses import (  # noqa: F401 - for your code
    bernoulli_nll,
    kl_divergence,
    log_normal,
    reduce_batch,
    reparameterize,
)

IMAGE_SHAPE = (1, 8, 8)
PIXELS = 64


def check_images(x: Tensor) -> None:
    """Raise ValueError unless x is a floating-point batch of images of shape (B, 1, 8, 8)."""
    raise NotImplementedError("TODO: 4-D, trailing shape (1, 8, 8), floating point")


def check_latent_dim(latent_dim: int) -> None:
    """Raise ValueError unless ``latent_dim`` >= 1."""
    raise NotImplementedError("TODO: a code needs at least one dimension")


class Autoencoder(nn.Module):
    """What every (deterministic) autoencoder here shares; subclasses set ``self.encoder``
    (images (B, 1, 8, 8) -> codes (B, d)) and ``self.decoder`` (codes -> logits (B, 1, 8, 8))
    in their constructor."""

    encoder: nn.Module
    decoder: nn.Module

    def encode(self, x: Tensor) -> Tensor:
        """x: (B, 1, 8, 8) -> code (B, latent_dim). Raises ValueError for other image shapes."""
        raise NotImplementedError("TODO: check the images, apply the encoder")

    def decode_logits(self, z: Tensor) -> Tensor:
        """z: (B, latent_dim) -> pixel logits (B, 1, 8, 8), before the sigmoid."""
        raise NotImplementedError("TODO: apply the decoder")

    def decode(self, z: Tensor) -> Tensor:
        """z: (B, latent_dim) -> images (B, 1, 8, 8) in [0, 1]: sigmoid of the logits."""
        raise NotImplementedError("TODO: sigmoid of decode_logits")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 1, 8, 8) -> reconstruction (B, 1, 8, 8) in [0, 1], decode(encode(x))."""
        raise NotImplementedError("TODO: encode, then decode")


class MLPAutoencoder(Autoencoder):
    """A fully connected autoencoder: 64 pixels -> ``hidden`` -> ``latent_dim`` -> ``hidden``
    -> 64 pixel logits, with ReLU after each hidden layer (none on the code or the logits).

    Build exactly (the state_dict keys are graded):

    - ``self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU(),
      nn.Linear(hidden, latent_dim))``
    - ``self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
      nn.Linear(hidden, 64), nn.Unflatten(1, (1, 8, 8)))``

    Raises ValueError if ``latent_dim`` < 1 (use :func:`check_latent_dim`) or ``hidden`` < 1.
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 128):
        super().__init__()
        raise NotImplementedError("TODO: check the sizes, build encoder and decoder as listed")


class ConvAutoencoder(Autoencoder):
    """A convolutional autoencoder with c = ``channels``. Build exactly (shapes per image):

    - ``self.encoder = nn.Sequential(``
      ``nn.Conv2d(1, c, 3, padding=1)``,                      # (c, 8, 8)
      ``nn.ReLU()``,
      ``nn.Conv2d(c, 2 * c, 3, stride=2, padding=1)``,        # (2c, 4, 4)
      ``nn.ReLU()``,
      ``nn.Flatten()``,                                         # (2c * 16,)
      ``nn.Linear(2 * c * 16, latent_dim))``                  # (d,)
    - ``self.decoder = nn.Sequential(``
      ``nn.Linear(latent_dim, 2 * c * 16)``,
      ``nn.ReLU()``,
      ``nn.Unflatten(1, (2 * c, 4, 4))``,                     # (2c, 4, 4)
      ``nn.ConvTranspose2d(2 * c, c, 4, stride=2, padding=1)``,  # (c, 8, 8)
      ``nn.ReLU()``,
      ``nn.Conv2d(c, 1, 3, padding=1))``                      # (1, 8, 8) logits

    Raises ValueError if ``latent_dim`` < 1 or ``channels`` < 1.
    """

    def __init__(self, latent_dim: int = 8, channels: int = 16):
        super().__init__()
        raise NotImplementedError("TODO: check the sizes, build encoder and decoder as listed")


class VAE(nn.Module):
    r"""A variational autoencoder with a Gaussian encoder $q(z|x) = \mathcal N(\mu(x),
    \mathrm{diag}(e^{v(x)}))$, the prior $p(z) = \mathcal N(0, I)$ and a Bernoulli decoder
    $p(x|z)$ with pixel probabilities sigmoid(decode_logits(z)).

    Build exactly (the state_dict keys are graded):

    - ``self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden), nn.ReLU())``
    - ``self.to_mean = nn.Linear(hidden, latent_dim)`` and
      ``self.to_logvar = nn.Linear(hidden, latent_dim)``
    - ``self.decoder = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(),
      nn.Linear(hidden, 64), nn.Unflatten(1, (1, 8, 8)))``

    and store ``self.latent_dim``. Raises ValueError if ``latent_dim`` < 1 or ``hidden`` < 1.
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 128):
        super().__init__()
        raise NotImplementedError("TODO: check the sizes, build the layers as listed")

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x: (B, 1, 8, 8) -> (mu, logvar), each (B, latent_dim). Raises ValueError for other
        image shapes."""
        raise NotImplementedError("TODO: check, shared hidden layer, then the two heads")

    def decode_logits(self, z: Tensor) -> Tensor:
        """z: (N, latent_dim) -> pixel logits (N, 1, 8, 8)."""
        raise NotImplementedError("TODO: apply the decoder")

    def decode(self, z: Tensor) -> Tensor:
        """z: (N, latent_dim) -> pixel probabilities (N, 1, 8, 8) in [0, 1]."""
        raise NotImplementedError("TODO: sigmoid of decode_logits")

    def forward(self, x: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """x: (B, 1, 8, 8); eps: (B, latent_dim) standard normal noise or None (drawn).

        Encodes x, draws z with :func:`reparameterize` (mu, logvar, eps) and decodes it.
        Returns (logits (B, 1, 8, 8), mu (B, d), logvar (B, d)).
        """
        raise NotImplementedError("TODO: encode, reparameterize, decode_logits")

    def negative_elbo(self, x: Tensor, eps: Tensor | None = None,
                      reduction: str = "mean") -> Tensor:
        r"""The negative evidence lower bound, a one-sample estimate for each image:

        $-\mathrm{ELBO}(x) = -\log p(x \mid z) + \mathrm{KL}(q(z|x) \,\|\, p(z))$ with
        $z = \mu + \sigma \varepsilon$, the first term :func:`bernoulli_nll` of the decoder's
        logits (summed over the pixels) and the second :func:`kl_divergence` in closed form
        (summed over the latent dimensions).

        x: (B, 1, 8, 8); eps: (B, d) or None. "mean" returns the batch average (shape ()), the
        training loss; "none" returns the (B,) per-image values. In nats.
        """
        raise NotImplementedError("TODO: forward, then per-image reconstruction + KL, then reduce")

    def iwae_nll(self, x: Tensor, eps: Tensor | None = None, num_samples: int = 50,
                 reduction: str = "mean") -> Tensor:
        r"""Importance-weighted estimate of the negative log-likelihood, $-\log p(x)$, with K
        samples $z_k = \mu + \sigma \varepsilon_k$ from the encoder:

        $\log w_k = \log p(x \mid z_k) + \log p(z_k) - \log q(z_k \mid x)$,
        $\quad \mathrm{NLL}_K(x) = -\log \frac1K \sum_{k=1}^K e^{\log w_k}$,

        with $\log p(x|z_k)$ = -:func:`bernoulli_nll` (per image), $\log p(z_k)$ =
        :func:`log_normal` (z_k, 0, 0) and $\log q(z_k|x)$ = :func:`log_normal` (z_k, mu, logvar).
        Compute the log-mean-exp stably (subtract the maximum over k first). Its expectation is an
        upper bound on the true NLL that tightens as K grows; K = 1 is the negative ELBO with a
        sampled instead of a closed-form KL.

        x: (B, 1, 8, 8); eps: (K, B, d) noise, or None to draw K = ``num_samples`` samples with
        ``torch.randn``. "mean" returns the batch average (shape ()), "none" the (B,) values.
        """
        raise NotImplementedError("TODO: log weights (K, B), minus log-mean-exp over k, reduce")

    def sample(self, num_samples: int, seed: int | None = None) -> Tensor:
        """New images from the prior: z ~ N(0, I), returned as ``decode(z)``, (N, 1, 8, 8).

        Draw ``z = torch.randn(num_samples, latent_dim, generator=g)`` on the CPU with
        ``g = torch.Generator().manual_seed(seed)`` (torch's global generator when seed is None),
        then move z to the model's device. Raises ValueError if num_samples < 1.
        """
        raise NotImplementedError("TODO: seeded standard normal codes, decoded")

    def reconstruct(self, x: Tensor) -> Tensor:
        """x: (B, 1, 8, 8) -> the decoded encoder mean, decode(mu), (B, 1, 8, 8) in [0, 1]
        (no sampling: the most likely code)."""
        raise NotImplementedError("TODO: decode the mean")

    def interpolate(self, x_a: Tensor, x_b: Tensor, steps: int = 8) -> Tensor:
        r"""Decode a straight line in latent space between two images.

        x_a, x_b: single images (1, 8, 8). With $\mu_a, \mu_b$ their encoder means and
        $t_s$ = ``torch.linspace(0, 1, steps)``, returns decode$((1 - t_s)\mu_a + t_s \mu_b)$ for
        every s, shape (steps, 1, 8, 8): the first image is reconstruct(x_a), the last
        reconstruct(x_b). Raises ValueError if steps < 2 or an image is not (1, 8, 8).
        """
        raise NotImplementedError("TODO: encode both means, mix them linearly, decode")

