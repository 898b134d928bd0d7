"""Hidden tests: conv_output_size, sliding_windows and conv2d (shapes, values, gradients, errors).

Configurations (kernel, stride, padding, dilation, each an int or a pair) are drawn at random;
expected values come from ``torch.nn.functional.conv2d`` or the reference, in this process.
"""

import pytest
import torch
import torch.nn.functional as F

from autograder.common.grad import vjp
from autograder.grading import checks

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}
N_CONFIGS = 6


def draw(rng, lo, hi):
    return int(torch.randint(lo, hi + 1, (), generator=rng))


def int_or_pair(rng, lo, hi):
    return draw(rng, lo, hi) if draw(rng, 0, 1) else (draw(rng, lo, hi), draw(rng, lo, hi))


def as_pair(v):
    return (v, v) if isinstance(v, int) else v


def random_config(rng):
    """Keyword arguments of a valid convolution and the input/weight sizes that fit them."""
    cfg = {"stride": int_or_pair(rng, 1, 3), "padding": int_or_pair(rng, 0, 2),
           "dilation": int_or_pair(rng, 1, 2)}
    kernel = (draw(rng, 1, 4), draw(rng, 1, 4))
    (ph, pw), (dh, dw) = as_pair(cfg["padding"]), as_pair(cfg["dilation"])
    h = max(1, dh * (kernel[0] - 1) + 1 - 2 * ph) + draw(rng, 0, 6)
    w = max(1, dw * (kernel[1] - 1) + 1 - 2 * pw) + draw(rng, 0, 6)
    sizes = {"B": draw(rng, 1, 3), "C_in": draw(rng, 1, 4), "C_out": draw(rng, 1, 5),
             "H": h, "W": w, "kernel": kernel}
    return sizes, cfg


def tensors(sizes, rng, dtype, device):
    """x (B, C_in, H, W), weight (C_out, C_in, kH, kW), bias (C_out,)."""
    x = torch.randn(sizes["B"], sizes["C_in"], sizes["H"], sizes["W"], generator=rng, dtype=dtype)
    w = torch.randn(sizes["C_out"], sizes["C_in"], *sizes["kernel"], generator=rng, dtype=dtype)
    b = torch.randn(sizes["C_out"], generator=rng, dtype=dtype)
    return x.to(device), w.to(device), b.to(device)


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("conv_output_size is floor((n + 2p - d(k-1) - 1) / s) + 1: the dilated kernel "
                  "spans d(k-1)+1 pixels; return a Python int.")
def test_conv_output_size_values(submission, reference, rng):
    for _ in range(40):
        k, s, p, d = draw(rng, 1, 5), draw(rng, 1, 4), draw(rng, 0, 3), draw(rng, 1, 3)
        n = max(1, d * (k - 1) + 1 - 2 * p) + draw(rng, 0, 9)
        got = submission.conv_output_size(n, k, s, p, d)
        checks.expect(isinstance(got, int), "dtype",
                      f"conv_output_size returned {type(got).__name__}, expected int")
        checks.expect(got == reference.conv_output_size(n, k, s, p, d), "shape",
                      f"conv_output_size(size={n}, kernel_size={k}, stride={s}, padding={p}, "
                      f"dilation={d}) is wrong")


BAD_SIZES = {
    "kernel-larger-than-input": (3, 4, 1, 0, 1),
    "dilated-kernel-larger-than-padded-input": (4, 3, 1, 0, 2),
    "stride-0": (8, 3, 0, 0, 1),
    "negative-padding": (8, 3, 1, -1, 1),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_SIZES))
@pytest.mark.hint("conv_output_size must raise ValueError when the dilated kernel d(k-1)+1 is "
                  "longer than the padded input n + 2p, or stride/dilation/kernel < 1 or "
                  "padding < 0.")
def test_conv_output_size_rejects_bad_sizes(submission, case):
    checks.assert_raises(ValueError, submission.conv_output_size, *BAD_SIZES[case])


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("sliding_windows(x)[b, c, i*kW + j, p, q] = x[b, c, p*sH + i*dH, q*sW + j*dW]: "
                  "window offsets on axis 2 in row-major order, output positions on axes 3, 4.")
def test_sliding_windows_values(submission, reference, rng, device):
    for _ in range(N_CONFIGS):
        sizes, cfg = random_config(rng)
        (ph, pw) = as_pair(cfg["padding"])
        x, _, _ = tensors(sizes, rng, torch.float64, device)
        x = F.pad(x, (pw, pw, ph, ph))  # sliding_windows adds no padding of its own
        args = (sizes["kernel"], cfg["stride"], cfg["dilation"])
        expected = reference.sliding_windows(x, *args)
        got = submission.sliding_windows(x, *args)
        checks.assert_shape(got, expected.shape, what=f"sliding_windows of {tuple(x.shape)}")
        checks.assert_close(got, expected, atol=0, rtol=0, what="sliding_windows")


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("conv2d returns (B, C_out, H_out, W_out) with H_out, W_out from "
                  "conv_output_size using each axis' own kernel size, stride, padding, dilation.")
def test_conv2d_shape(submission, rng, device):
    for _ in range(2 * N_CONFIGS):
        sizes, cfg = random_config(rng)
        x, w, b = tensors(sizes, rng, torch.float32, device)
        checks.assert_shape(submission.conv2d(x, w, b, **cfg), F.conv2d(x, w, b, **cfg).shape,
                            what=f"conv2d of x {tuple(x.shape)}, weight {tuple(w.shape)}, {cfg}")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("Compare with the formula: zero padding on both sides, the kernel not flipped "
                  "(cross-correlation), dilation spacing the kernel taps, the bias added per "
                  "output channel; keep x's dtype.")
def test_conv2d_values(submission, rng, device, dtype):
    for _ in range(N_CONFIGS):
        sizes, cfg = random_config(rng)
        x, w, b = tensors(sizes, rng, dtype, device)
        checks.assert_close(submission.conv2d(x, w, b, **cfg), F.conv2d(x, w, b, **cfg),
                            **TOL[dtype], what=f"conv2d with {cfg}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("bias=None means no bias at all.")
def test_conv2d_without_bias(submission, rng, device):
    for _ in range(N_CONFIGS):
        sizes, cfg = random_config(rng)
        x, w, _ = tensors(sizes, rng, torch.float64, device)
        checks.assert_close(submission.conv2d(x, w, None, **cfg), F.conv2d(x, w, None, **cfg),
                            **TOL[torch.float64], what=f"conv2d without bias, {cfg}")


@pytest.mark.points(3)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must reach x, weight and bias: build the output from torch "
                  "operations on them (slicing, stack, reshape, matmul), with no .detach(), "
                  ".item(), numpy or in-place writes into a preallocated tensor without grad.")
def test_conv2d_gradients(submission, reference, rng, device):
    for _ in range(N_CONFIGS):
        sizes, cfg = random_config(rng)
        x, w, b = tensors(sizes, rng, torch.float64, device)
        g = torch.randn(F.conv2d(x, w, b, **cfg).shape, generator=rng,
                        dtype=torch.float64).to(device)
        checks.assert_grads_close(vjp(submission.conv2d, x, w, b, cotangent=g, **cfg),
                                  vjp(reference.conv2d, x, w, b, cotangent=g, **cfg),
                                  atol=1e-10, rtol=1e-8)


def bad_conv_inputs(case, rng):
    x = torch.randn(2, 3, 6, 6, generator=rng)
    w = torch.randn(4, 3, 3, 3, generator=rng)
    b = torch.randn(4, generator=rng)
    kwargs = {}
    if case == "wrong-channel-count":
        x = torch.randn(2, 2, 6, 6, generator=rng)
    elif case == "kernel-larger-than-padded-input":
        x = torch.randn(2, 3, 2, 6, generator=rng)  # 2 + 2*0 < 3
    elif case == "dilated-kernel-larger-than-padded-input":
        kwargs = {"dilation": 4, "padding": 1}  # span 4 * 2 + 1 = 9 > 6 + 2
    elif case == "bias-wrong-shape":
        b = torch.randn(3, generator=rng)
    elif case == "input-not-4d":
        x = x[0]
    return (x, w, b), kwargs


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", ["wrong-channel-count", "kernel-larger-than-padded-input",
                                  "dilated-kernel-larger-than-padded-input", "bias-wrong-shape",
                                  "input-not-4d"])
@pytest.mark.hint("conv2d must raise ValueError (with a message saying what is wrong) when x is "
                  "not (B, C_in, H, W) with weight's C_in channels, bias is not (C_out,), or the "
                  "dilated kernel does not fit in the padded input.")
def test_conv2d_rejects_bad_input(submission, rng, case):
    args, kwargs = bad_conv_inputs(case, rng)
    checks.assert_raises(ValueError, submission.conv2d, *args, **kwargs)
