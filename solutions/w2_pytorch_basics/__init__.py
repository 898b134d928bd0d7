"""Week 2 warm-up lab: PyTorch basics, from softmax to a trained MLP (see README.md)."""

from .basics import (
    MLP,
    accuracy,
    cross_entropy,
    linear,
    log_softmax,
    make_optimizer,
    sgd_step,
    softmax,
    train_moons,
    train_step,
)

__all__ = [
    "MLP",
    "accuracy",
    "cross_entropy",
    "linear",
    "log_softmax",
    "make_optimizer",
    "sgd_step",
    "softmax",
    "train_moons",
    "train_step",
]
