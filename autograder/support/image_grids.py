"""Plots of small images for the handouts: image grids and 2-D scatter plots of codes.

Matplotlib is imported inside each function, so importing this module costs nothing where no
figure is drawn (the grader, the sandboxed worker). Each function writes one PNG and closes its
figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


def tile(images: torch.Tensor | np.ndarray, ncols: int, pad: int = 1,
         pad_value: float = 0.0) -> np.ndarray:
    """Tile a batch of single-channel images (N, 1, H, W) or (N, H, W) into one 2-D array.

    Images fill the grid row by row, ``ncols`` per row, separated by ``pad`` pixels of
    ``pad_value``; empty cells of the last row are ``pad_value`` too. Returns a float array of
    shape (rows * (H + pad) - pad, ncols * (W + pad) - pad) with rows = ceil(N / ncols).
    Raises ValueError for an empty batch, more than one channel or ncols < 1.
    """
    arr = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.ndim == 4:
        if arr.shape[1] != 1:
            raise ValueError(f"expected one channel, got images of shape {arr.shape}")
        arr = arr[:, 0]
    if arr.ndim != 3 or len(arr) == 0 or ncols < 1:
        raise ValueError(f"expected a non-empty batch (N, [1,] H, W) and ncols >= 1, got "
                         f"{arr.shape} and ncols={ncols}")
    n, h, w = arr.shape
    rows = -(-n // ncols)
    grid = np.full((rows * (h + pad) - pad, ncols * (w + pad) - pad), pad_value, dtype=float)
    for i, img in enumerate(arr):
        r, c = divmod(i, ncols)
        grid[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return grid


def save_image_grid(images: torch.Tensor | np.ndarray, path: Path | str, ncols: int = 10,
                    title: str = "", row_labels: Sequence[str] = (),
                    cell_inches: float = 0.45) -> None:
    """Save a grid of grey images in [0, 1] (black ink on white, like the digits) as a PNG.

    ``row_labels`` names the grid's rows on the left (for example "input", "reconstruction").
    """
    import matplotlib.pyplot as plt

    grid = tile(images, ncols)
    n = len(images)
    rows = -(-n // ncols)
    fig, ax = plt.subplots(figsize=(max(ncols * cell_inches + 1.2, 3), rows * cell_inches + 0.7))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    h = (grid.shape[0] + 1) / rows
    if row_labels:
        ax.set_yticks([h * (r + 0.5) - 1 for r in range(len(row_labels))], list(row_labels))
    else:
        ax.set_yticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def save_latent_scatter(codes: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray,
                        path: Path | str, title: str = "") -> None:
    """Scatter 2-D codes (N, 2), coloured by integer label (N,) with one legend entry per class.

    Raises ValueError unless codes is (N, 2) and labels (N,).
    """
    import matplotlib.pyplot as plt

    codes = np.asarray(codes.detach().cpu() if isinstance(codes, torch.Tensor) else codes)
    labels = np.asarray(labels.detach().cpu() if isinstance(labels, torch.Tensor) else labels)
    if codes.ndim != 2 or codes.shape[1] != 2 or labels.shape != (len(codes),):
        raise ValueError(f"expected codes (N, 2) and labels (N,), got {codes.shape} and "
                         f"{labels.shape}")
    fig, ax = plt.subplots(figsize=(6, 5))
    cmap = plt.get_cmap("tab10")
    for k in np.unique(labels):
        pts = codes[labels == k]
        ax.scatter(pts[:, 0], pts[:, 1], s=8, color=cmap(int(k) % 10), label=str(k), alpha=0.8)
    ax.legend(title="digit", markerscale=2, fontsize=8, loc="center left",
              bbox_to_anchor=(1.0, 0.5))
    ax.set(xlabel="$z_1$", ylabel="$z_2$", title=title)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
