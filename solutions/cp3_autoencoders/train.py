"""Train the autoencoders and the VAE on the digits end to end and save the figures.

Run from the folder that holds the package (the same script works on your copy)::

    python -m cp3_autoencoders.train --out figures

It trains, each behind a progress bar, an MLP autoencoder, a denoising one, a VAE with an
8-dimensional code and a VAE with a 2-dimensional code; prints held-out reconstruction errors,
the negative ELBO and the IWAE NLL (K = 50) in nats per image; and writes to ``--out``:

- ``losses.png``: training loss per epoch of each model;
- ``reconstructions.png``: test digits and their reconstructions by each model;
- ``denoising.png``: clean test digits, corrupted copies, and the denoising autoencoder's output;
- ``vae_samples.png``: 100 images decoded from codes drawn from the prior N(0, I);
- ``vae_interpolations.png``: decoded straight lines in latent space between test digits;
- ``latent_2d.png``: the 2-D VAE's encoder means of the test digits, coloured by digit.

Needs matplotlib (``pip install matplotlib``). Takes about a minute of CPU time.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from autograder.support.digits import load_digits_split
from autograder.support.figures import use_file_backend
from autograder.support.image_grids import save_image_grid, save_latent_scatter

from . import corrupt, train_autoencoder, train_vae

NOISE_STD = 0.5


def with_progress(name: str, epochs: int, train, losses: dict[str, list[float]], **kwargs):
    """Run ``train(..., epochs=epochs, on_epoch=...)`` behind a progress bar; keep the losses."""
    losses[name] = []
    with tqdm(total=epochs, desc=name, unit="epoch") as bar:
        def on_epoch(epoch: int, loss: float) -> None:
            losses[name].append(loss)
            bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
            bar.update()

        return train(epochs=epochs, on_epoch=on_epoch, **kwargs)


def mse(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(((a - b) ** 2).mean())


def plot_losses(losses: dict[str, list[float]], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(losses), figsize=(3.2 * len(losses), 3))
    for ax, (name, values) in zip(axes, losses.items(), strict=True):
        ax.plot(range(1, len(values) + 1), values)
        ax.set(xlabel="epoch", title=name)
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("training loss (nats per image)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--epochs", type=int, default=40, help="epochs for every model")
    args = parser.parse_args(argv)
    use_file_backend(parser)

    split = load_digits_split(args.seed, scaling="unit")
    x_train = torch.cat([split.x_train, split.x_val])
    x_test, y_test = split.x_test, split.y_test
    common = {"x_train": x_train, "seed": args.seed}
    losses: dict[str, list[float]] = {}
    start = time.perf_counter()
    ae = with_progress("MLP autoencoder", args.epochs, train_autoencoder, losses, **common)
    dae = with_progress("denoising AE", args.epochs, train_autoencoder, losses,
                        noise_std=NOISE_STD, **common)
    vae = with_progress("VAE, d = 8", args.epochs, train_vae, losses, **common)
    vae2 = with_progress("VAE, d = 2", args.epochs, train_vae, losses, latent_dim=2, **common)
    print(f"trained four models in {time.perf_counter() - start:.1f}s")

    g = torch.Generator().manual_seed(args.seed)
    with torch.no_grad():
        noisy = corrupt(x_test, torch.randn(x_test.shape, generator=g), NOISE_STD)
        recon = {"autoencoder": ae(x_test), "VAE, d = 8": vae.reconstruct(x_test),
                 "VAE, d = 2": vae2.reconstruct(x_test)}
        for name, out in recon.items():
            print(f"{name}: held-out per-pixel MSE {mse(out, x_test):.4f}")
        denoised = dae(noisy)
        print(f"denoising: per-pixel MSE of the noisy input {mse(noisy, x_test):.4f}, of the "
              f"output {mse(denoised, x_test):.4f}")
        for name, model in (("VAE, d = 8", vae), ("VAE, d = 2", vae2)):
            neg_elbo = float(model.negative_elbo(x_test))
            iwae = float(model.iwae_nll(x_test, num_samples=50))
            print(f"{name}: test negative ELBO {neg_elbo:.2f}, IWAE NLL (K=50) {iwae:.2f} "
                  "nats per image")

        args.out.mkdir(parents=True, exist_ok=True)
        plot_losses(losses, args.out / "losses.png")
        show = x_test[:10]
        save_image_grid(torch.cat([show, *(out[:10] for out in recon.values())]),
                        args.out / "reconstructions.png", row_labels=["test", *recon],
                        title="Held-out digits and their reconstructions")
        save_image_grid(torch.cat([show, noisy[:10], denoised[:10]]), args.out / "denoising.png",
                        row_labels=["clean", f"noisy (std {NOISE_STD})", "denoised"],
                        title="Denoising autoencoder on held-out digits")
        save_image_grid(vae.sample(100, seed=args.seed), args.out / "vae_samples.png",
                        title="VAE (d = 8): decoded samples from the prior N(0, I)")
        paths = [vae.interpolate(x_test[i], x_test[i + 1], 10) for i in range(0, 12, 2)]
        save_image_grid(torch.cat(paths), args.out / "vae_interpolations.png",
                        title="VAE (d = 8): straight lines in latent space between test digits")
        mu2, _ = vae2.encode(x_test)
        save_latent_scatter(mu2, y_test, args.out / "latent_2d.png",
                            title="2-D VAE: encoder means of the held-out digits")
    print(f"wrote 6 figures to {args.out}")


if __name__ == "__main__":
    main()
