"""Train the CNN on the digits and on the shapes, and save the figures.

Run from the folder that holds the package (the same script works on your copy)::

    python -m cp1_cnn.train --out figures

It trains with your ``train_classifier`` (a progress bar shows the loss and the validation
accuracy), prints the test accuracies, and writes to ``--out``:

- ``digits_curves.png``: training and validation loss, and validation accuracy, per epoch;
- ``digits_filters.png``: the first convolution layer's 3x3 filters;
- ``digits_confusion.png``: the confusion matrix on the held-out test digits;
- ``shapes_samples.png``: examples of the shapes data set with the model's predictions.

Needs matplotlib (``pip install matplotlib``).
"""

from __future__ import annotations

import argparse
import inspect
import time
from pathlib import Path

import torch
from tqdm import tqdm

from autograder.support.digits import load_digits_split
from autograder.support.figures import use_file_backend
from autograder.support.shapes import SHAPE_NAMES, make_shapes

from . import evaluate, train_classifier

SHAPES_SETTINGS = {"epochs": 8, "batch_size": 64, "lr": 5e-3, "augment": False}


def train_with_bar(x_train, y_train, x_val, y_val, desc: str, seed: int, **settings):
    """train_classifier behind a progress bar; returns the model and the per-epoch history."""
    epochs = settings.get("epochs",
                          inspect.signature(train_classifier).parameters["epochs"].default)
    history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "val_acc": []}
    with tqdm(total=epochs, desc=desc, unit="epoch") as bar:
        def on_epoch(epoch: int, loss: float, val: tuple[float, float] | None) -> None:
            history["train_loss"].append(loss)
            if val is not None:
                history["val_acc"].append(val[0])
                history["val_loss"].append(val[1])
                bar.set_postfix(loss=f"{loss:.4f}", val_acc=f"{val[0]:.3f}", refresh=False)
            bar.update()

        model = train_classifier(x_train, y_train, num_classes=int(y_train.max()) + 1, seed=seed,
                                 x_val=x_val, y_val=y_val, on_epoch=on_epoch, **settings)
    return model, history


def plot_curves(history: dict[str, list[float]], path: Path) -> None:
    import matplotlib.pyplot as plt

    epochs = range(1, len(history["train_loss"]) + 1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    ax1.semilogy(epochs, history["train_loss"], label="training (augmented)")
    ax1.semilogy(epochs, history["val_loss"], label="validation")
    ax1.set(xlabel="epoch", ylabel="cross-entropy", title="Loss")
    ax1.legend()
    ax2.plot(epochs, history["val_acc"])
    ax2.set(xlabel="epoch", ylabel="accuracy", title="Validation accuracy", ylim=(0.8, 1.0))
    for ax in (ax1, ax2):
        ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_filters(weight: torch.Tensor, path: Path) -> None:
    """weight (C_out, 1, kH, kW): one small image per filter, on a shared colour scale."""
    import matplotlib.pyplot as plt

    n = weight.shape[0]
    cols = 8
    rows = (n + cols - 1) // cols
    limit = float(weight.abs().max())
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.2))
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(weight[i, 0], cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(str(i), fontsize=8)
    fig.suptitle("First-layer filters (red positive, blue negative)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_confusion(y_true: torch.Tensor, y_pred: torch.Tensor, labels: list[str], acc: float,
                   path: Path) -> None:
    import matplotlib.pyplot as plt

    k = len(labels)
    matrix = torch.zeros(k, k, dtype=torch.long)
    matrix.index_put_((y_true, y_pred), torch.ones_like(y_true), accumulate=True)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.imshow(matrix, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                ax.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set(xticks=range(k), yticks=range(k), xticklabels=labels, yticklabels=labels,
           xlabel="predicted", ylabel="true",
           title=f"Test confusion matrix, accuracy {acc:.1%}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_shapes(x: torch.Tensor, y: torch.Tensor, pred: torch.Tensor, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 8, figsize=(10, 4.2))
    for i, ax in enumerate(axes.flat):
        ax.imshow(x[i, 0], cmap="gray")
        ok = bool(pred[i] == y[i])
        ax.set_title(SHAPE_NAMES[int(pred[i])], fontsize=8, color="black" if ok else "red")
        ax.axis("off")
    fig.suptitle("Shapes test images with predicted labels (red: wrong)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("figures"), help="folder for the PNGs")
    parser.add_argument("--seed", type=int, default=0, help="data and training seed")
    args = parser.parse_args(argv)
    use_file_backend(parser)
    args.out.mkdir(parents=True, exist_ok=True)

    d = load_digits_split(seed=args.seed, scaling="standard")
    start = time.perf_counter()
    model, history = train_with_bar(d.x_train, d.y_train, d.x_val, d.y_val, "digits", args.seed)
    acc, loss = evaluate(model, d.x_test, d.y_test)
    print(f"digits: {time.perf_counter() - start:.1f}s, test accuracy {acc:.3f}, "
          f"test loss {loss:.3f} ({len(d.y_test)} images)")
    with torch.no_grad():
        pred = model(d.x_test).argmax(dim=1)
    plot_curves(history, args.out / "digits_curves.png")
    plot_filters(model.conv1.weight.detach(), args.out / "digits_filters.png")
    plot_confusion(d.y_test, pred, [str(i) for i in range(10)], acc,
                   args.out / "digits_confusion.png")

    x, y = make_shapes(4500, seed=args.seed)  # 3,000 to train, 500 to validate, 1,000 to test
    start = time.perf_counter()
    model, _ = train_with_bar(x[:3000], y[:3000], x[3000:3500], y[3000:3500], "shapes",
                              args.seed, **SHAPES_SETTINGS)
    x_test, y_test = x[3500:], y[3500:]
    acc, _ = evaluate(model, x_test, y_test)
    print(f"shapes: {time.perf_counter() - start:.1f}s, test accuracy {acc:.3f} "
          f"({len(y_test)} images)")
    with torch.no_grad():
        pred = model(x_test).argmax(dim=1)
    plot_shapes(x_test, y_test, pred, args.out / "shapes_samples.png")
    print(f"wrote 4 figures to {args.out}")


if __name__ == "__main__":
    main()
