"""Fixed test inputs: tensors with the same values on every machine and every torch version.

Public self-check tests compare a submission against snapshots recorded from the reference, so
their inputs must not come from a random generator (whose streams may change between torch
releases or devices); ``wave`` gives irregular, sign-changing values from closed-form math.
"""

from __future__ import annotations

import math

import torch


def wave(*shape: int, scale: float = 1.0, phase: float = 0.0) -> torch.Tensor:
    r"""A float32 tensor of ``shape`` whose flat element t is
    $\text{scale} \cdot \sin(1.7 t + \text{phase}) \cdot \cos(0.3 t)$ (computed in float64)."""
    t = torch.arange(math.prod(shape), dtype=torch.float64)
    return (scale * torch.sin(1.7 * t + phase) * torch.cos(0.3 * t)).reshape(shape).float()
