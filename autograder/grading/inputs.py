"""Inputs of public tests: the same values on every machine and every torch version.

Public self-check tests compare a submission against snapshots recorded from the reference, so
their inputs must not come from torch's random generators (whose streams may change between
torch releases or devices). ``wave`` gives irregular, sign-changing values from closed-form math;
:class:`Inputs` (the ``inputs`` fixture) draws the waves' phases, integers and choices from the
test's seed with Python's ``random`` (whose streams Python keeps stable). The seed is the fixed
public one in a student's self-check, so the snapshots apply, and a secret one in an official
grade, where the reference computes the expected values live.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import TypeVar

import torch

T = TypeVar("T")


def wave(*shape: int, scale: float = 1.0, phase: float = 0.0, freq: float = 1.7) -> torch.Tensor:
    r"""A float32 tensor of ``shape`` whose flat element t is
    $\text{scale} \cdot \sin(\text{freq} \cdot t + \text{phase}) \cdot \cos(0.3 t)$ (computed in
    float64)."""
    t = torch.arange(math.prod(shape), dtype=torch.float64)
    return (scale * torch.sin(freq * t + phase) * torch.cos(0.3 * t)).reshape(shape).float()


class Inputs:
    """Seeded, version-stable inputs for one test: ``inputs.wave(2, 3)``, ``inputs.integers(0,
    10, 4, 5)``, ``inputs.randint(1, 6)``, ``inputs.choice(["a", "b"])``."""

    def __init__(self, seed: int):
        self.random = random.Random(seed)

    def wave(self, *shape: int, scale: float = 1.0) -> torch.Tensor:
        """:func:`wave` with a phase in [0, 2 pi) and a frequency in [1.3, 2.1] from the seed."""
        return wave(*shape, scale=scale, phase=self.random.uniform(0.0, 2 * math.pi),
                    freq=self.random.uniform(1.3, 2.1))

    def integers(self, low: int, high: int, *shape: int) -> torch.Tensor:
        """An int64 tensor of ``shape`` with entries uniform in ``[low, high)``."""
        values = [self.random.randrange(low, high) for _ in range(math.prod(shape))]
        return torch.tensor(values, dtype=torch.int64).reshape(shape)

    def randint(self, low: int, high: int) -> int:
        """An int uniform in ``[low, high]`` (both ends included, as ``random.randint``)."""
        return self.random.randint(low, high)

    def uniform(self, low: float, high: float) -> float:
        return self.random.uniform(low, high)

    def choice(self, options: Sequence[T]) -> T:
        return options[self.random.randrange(len(options))]

    def sample(self, options: Sequence[T], k: int) -> list[T]:
        """``k`` distinct elements of ``options``, in random order."""
        return self.random.sample(list(options), k)

    def permutation(self, n: int) -> list[int]:
        order = list(range(n))
        self.random.shuffle(order)
        return order

    def torch_seed(self) -> int:
        """A seed for torch generators on the trusted side (for values that are snapshotted, such
        as a reference model's initial weights; never pass it to the submission)."""
        return self.random.getrandbits(62)
