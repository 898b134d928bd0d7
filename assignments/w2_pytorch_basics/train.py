"""Train the two-moons classifier end to end and save its figures.

Run from the folder that holds the package (the same script works on your copy)::

    python -m w2_pytorch_basics.train --out figures

It trains with your ``train_moons`` (a progress bar shows the loss), prints the held-out
accuracy, and writes ``moons_loss.png`` (training loss per epoch) and ``moons_boundary.png``
(the model's class probabilities over the plane, its decision boundary and the data) to ``--out``.
Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import inspect
import time
from pathlib import Path

import torch
from sklearn.datasets import make_moons
from tqdm import tqdm

from autograder.support.figures import use_file_backend

from . import accuracy, softmax, train_moons


def moons(n_train: int, n_test: int, seed: int) -> tuple[torch.Tensor, ...]:
    """x_train (n_train, 2) float32, y_train (n_train,) int64, x_test, y_test."""
    x, y = make_moons(n_train + n_test, noise=0.15, random_state=seed)
    x, y = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def plot_loss(losses: list[float], path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.semilogy(range(1, len(losses) + 1), losses)
    ax.set(xlabel="epoch (one full-batch step)", ylabel="training cross-entropy",
           title="Training loss on two moons")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_boundary(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, acc: float,
                  path: Path) -> None:
    """P(class 1) over a grid covering the points, the 0.5 contour, and the held-out points."""
    import matplotlib.pyplot as plt

    lo, hi = x.min(dim=0).values - 0.5, x.max(dim=0).values + 0.5
    g0, g1 = torch.meshgrid(torch.linspace(lo[0], hi[0], 300), torch.linspace(lo[1], hi[1], 300),
                            indexing="xy")
    grid = torch.stack([g0.flatten(), g1.flatten()], dim=1)  # (300 * 300, 2)
    with torch.no_grad():
        p1 = softmax(model(grid), dim=-1)[:, 1].reshape(g0.shape)  # (300, 300)
    fig, ax = plt.subplots(figsize=(6, 4.5))
    filled = ax.contourf(g0, g1, p1, levels=20, cmap="RdBu_r", vmin=0, vmax=1, alpha=0.8)
    ax.contour(g0, g1, p1, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(x[:, 0], x[:, 1], c=y, cmap="RdBu_r", vmin=0, vmax=1, s=8, edgecolors="k",
               linewidths=0.3)
    fig.colorbar(filled, ax=ax, label="P(class 1)")
    ax.set(xlabel="$x_1$", ylabel="$x_2$",
           title=f"Decision boundary, held-out accuracy {acc:.1%} ({len(y)} points)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    parser.add_argument("--epochs", type=int, default=None,
                        help="training epochs (default: train_moons' own default)")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--n-test", type=int, default=2000)
    args = parser.parse_args(argv)
    use_file_backend(parser)

    x_train, y_train, x_test, y_test = moons(args.n_train, args.n_test, args.seed)
    epochs = args.epochs or inspect.signature(train_moons).parameters["epochs"].default
    losses: list[float] = []
    start = time.perf_counter()
    with tqdm(total=epochs, desc="train_moons", unit="epoch") as bar:
        def on_step(epoch: int, loss: float) -> None:
            losses.append(loss)
            bar.set_postfix(loss=f"{loss:.4f}", refresh=False)
            bar.update()

        model = train_moons(x_train, y_train, seed=args.seed, epochs=epochs, on_step=on_step)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        acc = accuracy(model(x_test), y_test)
    print(f"trained {epochs} epochs on {args.n_train} points in {seconds:.2f}s; "
          f"held-out accuracy {acc:.3f} on {args.n_test} points")

    args.out.mkdir(parents=True, exist_ok=True)
    plot_loss(losses, args.out / "moons_loss.png")
    plot_boundary(model, x_test, y_test, acc, args.out / "moons_boundary.png")
    print(f"wrote {args.out / 'moons_loss.png'} and {args.out / 'moons_boundary.png'}")


if __name__ == "__main__":
    main()
