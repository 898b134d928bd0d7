"""Convolution and pooling from scratch: the functions, and the modules built on them.

Shapes: B batch, C channels (C_in, C_out for a convolution), H x W the image, kH x kW the
kernel. ``stride``, ``padding`` and ``dilation`` are an int (the same for height and width) or a
pair ``(for_height, for_width)``. Every function is pure and differentiable: it returns a new
tensor built from torch operations on its inputs, so autograd computes the gradients.
"""

from __future__ import annotations

# torch and F are for the code you write
import torch  # noqa: F401
import torch.nn.functional as F  # noqa: F401
from torch import Tensor, nn

IntPair = int | tuple[int, int]


def pair(value: IntPair, name: str) -> tuple[int, int]:
    """``value`` as a ``(height, width)`` pair of ints (given, not a task).

    Raises ValueError unless value is an int or a tuple/list of two ints.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value, value
    if (isinstance(value, (tuple, list)) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        return int(value[0]), int(value[1])
    raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0,
                     dilation: int = 1) -> int:
    r"""Length of a convolution's (or pooling's) output along one axis.

    $\lfloor (n + 2p - d\,(k - 1) - 1) / s \rfloor + 1$ for input length n = ``size``, kernel
    k, stride s, padding p (on each side) and dilation d; $d\,(k - 1) + 1$ is the span of the
    dilated kernel. All arguments are Python ints; returns a Python int.

    Raises ValueError if size, kernel_size, stride or dilation is below 1, padding is negative,
    or the dilated kernel is longer than the padded input ($d\,(k-1) + 1 > n + 2p$).
    """
    raise NotImplementedError("TODO: check the arguments, then the formula with integer division")


def sliding_windows(x: Tensor, kernel_size: IntPair, stride: IntPair = 1,
                    dilation: IntPair = 1) -> Tensor:
    r"""Every kH x kW window of ``x`` (no padding is added), as an extra axis: "im2col".

    x: (B, C, H, W). Returns (B, C, kH * kW, H_out, W_out), with H_out and W_out given by
    :func:`conv_output_size` (padding 0), where

    $\mathrm{out}[b, c, i\,k_W + j, p, q] = x[b, c,\ p\,s_H + i\,d_H,\ q\,s_W + j\,d_W]$

    for kernel offsets $0 \le i < k_H$, $0 \le j < k_W$ (row-major: the window's top row first).
    Convolution and both poolings are this tensor followed by a weighted sum, a max or a mean
    over axis 2. Hint: for a fixed (i, j) the entries form a strided slice of x.

    Raises ValueError if x is not 4-D or a window does not fit (see :func:`conv_output_size`).
    """
    raise NotImplementedError("TODO: a strided slice per kernel offset, stacked")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    r"""2-D convolution (cross-correlation, as in every deep-learning library), batched.

    $y[b, o, p, q] = \mathrm{bias}[o] + \sum_{c, i, j} w[o, c, i, j]\;
    \tilde x[b, c,\ p\,s_H + i\,d_H,\ q\,s_W + j\,d_W]$

    where $\tilde x$ is x with ``padding`` zeros added on each side (top and bottom p_H rows,
    left and right p_W columns). The kernel is *not* flipped. The result equals
    ``torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation)``.

    x: (B, C_in, H, W); weight: (C_out, C_in, kH, kW); bias: (C_out,) or None.
    Returns (B, C_out, H_out, W_out) in x's dtype, H_out = conv_output_size(H, kH, s_H, p_H, d_H)
    and likewise W_out.
    Raises ValueError if x or weight is not 4-D, x has a channel count other than weight's
    C_in, bias is not (C_out,), or the dilated kernel is larger than the padded input.
    """
    raise NotImplementedError("TODO: check, pad, sliding_windows, one matmul")


def _pool_padding(kernel_size: IntPair, padding: IntPair) -> tuple[int, int]:
    """Padding as a pair, checked against PyTorch's rule for pooling (given, not a task).

    Raises ValueError if a padding is negative or more than half the kernel: a window could
    then lie entirely in the padding.
    """
    (kh, kw), (ph, pw) = pair(kernel_size, "kernel_size"), pair(padding, "padding")
    if min(ph, pw) < 0 or 2 * ph > kh or 2 * pw > kw:
        raise ValueError(f"pooling padding must be between 0 and half the kernel, got padding "
                         f"{(ph, pw)} for kernel {(kh, kw)}")
    return ph, pw


def max_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    r"""Max pooling: $y[b, c, p, q] = \max_{i, j} \tilde x[b, c,\ p\,s_H + i,\ q\,s_W + j]$.

    $\tilde x$ is x padded with $-\infty$ (so the padding never wins the max); ``stride``
    defaults to ``kernel_size`` (non-overlapping windows). Equals
    ``torch.nn.functional.max_pool2d(x, kernel_size, stride, padding)``, gradient included:
    the gradient of each output goes to the input element that was its maximum, and nowhere
    else (take the max with ``Tensor.max(dim)``, whose backward does exactly that).

    x: (B, C, H, W). Returns (B, C, H_out, W_out) with conv_output_size(H, kH, s_H, p_H) rows
    and likewise columns. Raises ValueError if x is not 4-D, a padding is negative or larger
    than half the kernel, or the kernel is larger than the padded input.
    """
    raise NotImplementedError("TODO: check, pad with -inf, windows, max")


def avg_pool2d(x: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0) -> Tensor:
    r"""Average pooling: $y[b, c, p, q] = \frac{1}{k_H k_W} \sum_{i, j}
    \tilde x[b, c,\ p\,s_H + i,\ q\,s_W + j]$.

    $\tilde x$ is x padded with zeros, and the padded zeros count in the average (always divide
    by kH * kW); ``stride`` defaults to ``kernel_size``. Equals
    ``torch.nn.functional.avg_pool2d(x, kernel_size, stride, padding)``.

    x: (B, C, H, W). Returns (B, C, H_out, W_out) as for :func:`max_pool2d`, with the same
    ValueErrors.
    """
    raise NotImplementedError("TODO: check, pad with zeros, windows, mean")


class Conv2d(nn.Module):
    r"""A convolution layer holding its weight and bias, computed with :func:`conv2d`.

    Parameters (graded by ``state_dict`` key):

    - ``weight``: ``nn.Parameter`` (out_channels, in_channels, kH, kW);
    - ``bias``: ``nn.Parameter`` (out_channels,), or the attribute ``bias = None`` when
      ``bias=False`` (then ``state_dict`` has no ``bias`` key).

    Initialised as ``nn.Conv2d`` is (Kaiming-uniform with $a = \sqrt 5$): every entry of the
    weight and of the bias uniform in $[-1/\sqrt{\mathrm{fan\_in}},\ 1/\sqrt{\mathrm{fan\_in}}]$
    with fan_in = in_channels * kH * kW, drawn from torch's global generator.
    Raises ValueError if in_channels, out_channels or a kernel size is below 1.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
                 bias: bool = True):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride, self.padding, self.dilation = stride, padding, dilation
        raise NotImplementedError("TODO: check, then U(+-1/sqrt(fan_in))")

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, in_channels, H, W) -> (B, out_channels, H_out, W_out), via :func:`conv2d`."""
        raise NotImplementedError("TODO: implement Conv2d.forward")


class MaxPool2d(nn.Module):
    """Max pooling as a module (no parameters), computed with :func:`max_pool2d`."""

    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None,
                 padding: IntPair = 0):
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, C, H, W) -> (B, C, H_out, W_out), via :func:`max_pool2d`."""
        raise NotImplementedError("TODO: implement MaxPool2d.forward")
