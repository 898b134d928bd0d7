"""Checkpoint 3 reference numbers: reconstruction error, test negative ELBO and IWAE NLL.

    python benchmarks/cp3_autoencoders.py [--seeds 5] [--first-seed 0]

For each seed: split scikit-learn's digits with ``load_digits_split(seed, scaling="unit")``,
train the reference on train + validation (1,528 images) with that seed and measure on the 269
test images, exactly as the hidden tests do:

* ``mlp_mse``, ``conv_mse``: per-pixel squared reconstruction error of the MLP autoencoder
  (default settings, Bernoulli loss) and of the convolutional one (squared-error loss, 20
  epochs, as graded);
* ``denoise_mse``: per-pixel error of a denoising MLP autoencoder (noise_std 0.5) between its
  output for corrupted test images and the clean images; ``noisy_mse`` is the corrupted input's;
* ``neg_elbo``, ``iwae50``: the VAE's (latent_dim 8) test negative ELBO (one noise sample per
  image) and IWAE NLL with K = 50, in nats per image;
* ``max_prob``, ``classes``: mean max-probability of a logistic-regression digit classifier
  (trained on the real training digits) on 500 prior samples, and how many classes get at least
  5 of them; ``interp_mse``: per-pixel error of interpolation endpoints against their inputs.

Anchors on the same splits: ``pca_mse`` is the best *linear* 8-dimensional code (PCA, the optimum
an MLP autoencoder without nonlinearities can reach); ``indep_nll`` is the exact NLL of the
independent-pixel Bernoulli model (one probability per pixel, fit on the training images), which
a VAE must beat; ``floor`` is the Bernoulli cross-entropy of a perfect reconstruction
(sum of the pixels' binary entropies): no model's negative ELBO or NLL can go below it, because
the grey pixel values are targets, not binary samples.
Prints one row per seed and the mean, min and max of each column. The module's ``measure``
is also used to check that wrong implementations miss the graded thresholds.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "solutions")]

from autograder.support.digits import load_digits_split  # noqa: E402

NOISE_STD = 0.5
CONV_EPOCHS = 20
N_SAMPLES, MIN_PER_CLASS = 500, 5


def data(seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """x_train (1528, 1, 8, 8) with the validation part, y_train (1528,), x_test (269, 1, 8, 8)."""
    split = load_digits_split(seed, scaling="unit")
    return (torch.cat([split.x_train, split.x_val]), torch.cat([split.y_train, split.y_val]),
            split.x_test)


def pixel_mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a.double() - b.double()) ** 2).mean())


def classifier(x_train: torch.Tensor, y_train: torch.Tensor):
    """A logistic-regression digit classifier on the real training images (the judge)."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000).fit(x_train.flatten(1).numpy(), y_train.numpy())


def generation_scores(clf, samples: torch.Tensor) -> tuple[float, int]:
    """Mean max-probability of the classifier on the samples, and classes with >= 5 samples."""
    p = clf.predict_proba(samples.detach().flatten(1).double().numpy())
    counts = np.bincount(p.argmax(1), minlength=10)
    return float(p.max(1).mean()), int((counts >= MIN_PER_CLASS).sum())


def vae_test_scores(model, x: torch.Tensor, gen: torch.Generator, pkg: ModuleType
                    ) -> tuple[float, float]:
    """Test negative ELBO (one sample) and IWAE NLL (K = 50), nats per image, computed from the
    model's encoder and decoder outputs with the given package's loss functions."""
    with torch.no_grad():
        mu, logvar = model.encode(x)
        z = mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=gen)
        recon = pkg.bernoulli_nll(model.decode_logits(z), x, reduction="none")
        neg_elbo = float((recon + pkg.kl_divergence(mu, logvar, reduction="none")).mean())
        iwae = float(model.iwae_nll(x, torch.randn(50, *mu.shape, generator=gen)))
    return neg_elbo, iwae


def measure(pkg: ModuleType, seed: int) -> dict[str, float]:
    """Train everything once on the split of ``seed`` and return the measured numbers."""
    x_train, y_train, x_test = data(seed)
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, float] = {}
    mlp = pkg.train_autoencoder(x_train, seed=seed)
    conv = pkg.train_autoencoder(x_train, kind="conv", loss="mse", seed=seed,
                                 epochs=CONV_EPOCHS)
    dae = pkg.train_autoencoder(x_train, seed=seed, noise_std=NOISE_STD)
    with torch.no_grad():
        out["mlp_mse"] = pixel_mse(mlp(x_test), x_test)
        out["conv_mse"] = pixel_mse(conv(x_test), x_test)
        noisy = pkg.corrupt(x_test, torch.randn(x_test.shape, generator=gen), NOISE_STD)
        out["denoise_mse"] = pixel_mse(dae(noisy), x_test)
        out["noisy_mse"] = pixel_mse(noisy, x_test)
    vae = pkg.train_vae(x_train, seed=seed)
    out["neg_elbo"], out["iwae50"] = vae_test_scores(vae, x_test, gen, pkg)
    with torch.no_grad():
        out["max_prob"], out["classes"] = generation_scores(classifier(x_train, y_train),
                                                            vae.sample(N_SAMPLES, seed=seed))
        ends = torch.cat([vae.interpolate(x_test[i], x_test[i + 10], 5)[[0, -1]]
                          for i in range(10)])
        pairs = torch.stack([x_test[[i, i + 10]] for i in range(10)]).flatten(0, 1)
        out["interp_mse"] = pixel_mse(ends, pairs)
    return out


def anchors(seed: int) -> dict[str, float]:
    """PCA-8 test MSE, the independent-pixel Bernoulli NLL and the cross-entropy floor."""
    x_train, _, x_test = data(seed)
    a, b = x_train.flatten(1).double(), x_test.flatten(1).double()
    mean = a.mean(0)
    _, _, v = torch.linalg.svd(a - mean, full_matrices=False)
    basis = v[:8].T  # (64, 8)
    recon = (b - mean) @ basis @ basis.T + mean
    p = a.mean(0).clamp(1e-3, 1 - 1e-3)  # one Bernoulli probability per pixel
    indep = -(b * p.log() + (1 - b) * (1 - p).log()).sum(1).mean()
    q = b.clamp(1e-12, 1 - 1e-12)
    floor = -(b * q.log() + (1 - b) * (1 - q).log()).sum(1).mean()
    return {"pca_mse": pixel_mse(recon, b), "indep_nll": float(indep), "floor": float(floor)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    import cp3_autoencoders as reference

    rows = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        start = time.perf_counter()
        row = {**measure(reference, seed), **anchors(seed)}
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
        if len(rows) == 1:
            print("seed " + " ".join(f"{k:>11}" for k in row))
        print(f"{seed:4d} " + " ".join(f"{v:11.4f}" for v in row.values()), flush=True)
    for name, fn in (("mean", statistics.mean), ("min", min), ("max", max)):
        print(f"{name:>4} " + " ".join(f"{fn(r[k] for r in rows):11.4f}" for k in rows[0]))


if __name__ == "__main__":
    main()
