"""scikit-learn's 8x8 handwritten digits (1,797 images, 10 classes), split with a seed.

The images ship inside scikit-learn, so nothing is downloaded. Pixels are integers 0..16.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

SCALINGS = ("unit", "standard", "raw")


@dataclass(frozen=True)
class DigitsSplit:
    """Images ``(n, 1, 8, 8)`` float32 and labels ``(n,)`` int64 for each part of a split."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_split(seed: int = 0, val_fraction: float = 0.15, test_fraction: float = 0.15,
                      scaling: str = "standard") -> DigitsSplit:
    """Shuffle the digits with ``seed`` and split them into train / validation / test.

    The split is stratified (every part keeps the class proportions). ``scaling``:

    - ``"unit"``: pixels divided by 16, in [0, 1] (for autoencoders with a sigmoid decoder);
    - ``"standard"``: (x - mean) / std with the mean and std of the *training* pixels (one
      scalar each, so the validation and test parts see no statistic of their own);
    - ``"raw"``: the integer intensities 0..16 as floats.
    """
    if scaling not in SCALINGS:
        raise ValueError(f"scaling must be one of {SCALINGS}, got {scaling!r}")
    if not (0 <= val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum below 1, got "
                         f"{val_fraction} and {test_fraction}")
    from sklearn.datasets import load_digits

    data = load_digits()
    x = data.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    y = data.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for label in range(10):  # stratified: split each class in the same proportions
        idx = rng.permutation(np.flatnonzero(y == label))
        n_test = round(len(idx) * test_fraction)
        n_val = round(len(idx) * val_fraction)
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    index = {k: rng.permutation(np.concatenate(v)) for k, v in parts.items()}
    if scaling == "unit":
        x = x / 16.0
    elif scaling == "standard":
        train = x[index["train"]]
        x = (x - train.mean()) / train.std()
    out = {}
    for part, idx in index.items():
        out[f"x_{part}"] = torch.from_numpy(np.ascontiguousarray(x[idx]))
        out[f"y_{part}"] = torch.from_numpy(y[idx])
    return DigitsSplit(**out)
