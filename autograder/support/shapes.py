"""A synthetic "dummy" image data set: circles, squares, triangles and crosses, with noise.

Each image holds one filled shape at a random position and size, drawn at a random brightness
on a black background, plus Gaussian pixel noise. The class is the kind of shape; where it sits
and how big it is are nuisances a classifier has to ignore, which is what a convolutional
network's shared filters and pooling are good at. Everything is generated from ``seed`` with
numpy, so the same arguments give the same images on every machine.
"""

from __future__ import annotations

import numpy as np
import torch

SHAPE_NAMES = ("circle", "square", "triangle", "cross")
"""Class names, indexed by label: 0 circle, 1 square, 2 triangle (apex up), 3 cross (a plus)."""


def make_shapes(n: int, seed: int = 0, size: int = 12, noise: float = 0.1,
                min_radius: float = 3.5, max_radius: float | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images of random shapes: x ``(n, 1, size, size)`` float32, y ``(n,)`` int64.

    The classes are balanced (``n // 4`` of each, the remainder going to the first classes)
    and shuffled. For each image a "radius" r is drawn uniformly in
    ``[min_radius, max_radius]`` (default ``max_radius = size / 2.5``), a centre uniformly
    where the shape fits inside the image, and a brightness in [0.6, 1.0]:

    - circle: the disc of radius r;
    - square: the axis-aligned square of half-side r (the disc fits inside it);
    - triangle: apex up, height 2r, base 2r;
    - cross: a plus sign with arms of half-length r and half-width max(0.6, r / 4).

    Pixels inside the shape get the brightness, the others 0, and every pixel gets
    independent N(0, noise^2) noise; values are not clipped.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    max_radius = size / 2.5 if max_radius is None else max_radius
    if not 1.0 <= min_radius <= max_radius <= size / 2 - 0.5:
        raise ValueError(f"need 1 <= min_radius <= max_radius <= size / 2 - 0.5 = "
                         f"{size / 2 - 0.5}, got {min_radius} and {max_radius}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n) % len(SHAPE_NAMES)).astype(np.int64)
    r = rng.uniform(min_radius, max_radius, size=n)[:, None, None]  # (n, 1, 1)
    # pixel centres are at 0.5, 1.5, ..., size - 0.5; keep the shape inside [0, size]
    cx = rng.uniform(r[:, 0, 0], size - r[:, 0, 0])[:, None, None]
    cy = rng.uniform(r[:, 0, 0], size - r[:, 0, 0])[:, None, None]
    brightness = rng.uniform(0.6, 1.0, size=n)[:, None, None]
    grid = np.arange(size) + 0.5
    dx = grid[None, None, :] - cx  # (n, 1, size): column offset from the centre
    dy = grid[None, :, None] - cy  # (n, size, 1): row offset (down is positive)
    half_width = np.maximum(0.6, r / 4)
    masks = np.stack([
        dx**2 + dy**2 <= r**2,                                             # circle
        (np.abs(dx) <= r) & (np.abs(dy) <= r),                             # square
        (np.abs(dy) <= r) & (np.abs(dx) <= (dy + r) / 2),                  # triangle
        ((np.abs(dx) <= half_width) & (np.abs(dy) <= r))
        | ((np.abs(dy) <= half_width) & (np.abs(dx) <= r)),                # cross
    ])  # (4, n, size, size)
    mask = masks[y, np.arange(n)]  # (n, size, size): each image's own shape
    x = mask * brightness + rng.normal(0.0, noise, size=(n, size, size))
    return torch.from_numpy(x.astype(np.float32)[:, None]), torch.from_numpy(y)
