"""Checkpoint 1: convolution and pooling from scratch, and a CNN trained on them (README.md)."""

from .layers import (
    Conv2d,
    MaxPool2d,
    avg_pool2d,
    conv2d,
    conv_output_size,
    max_pool2d,
    pair,
    sliding_windows,
)
from .model import (
    CNN,
    evaluate,
    make_optimizer,
    random_affine,
    train_classifier,
    train_epoch,
)

__all__ = [
    "CNN",
    "Conv2d",
    "MaxPool2d",
    "avg_pool2d",
    "conv2d",
    "conv_output_size",
    "evaluate",
    "make_optimizer",
    "max_pool2d",
    "pair",
    "random_affine",
    "sliding_windows",
    "train_classifier",
    "train_epoch",
]
