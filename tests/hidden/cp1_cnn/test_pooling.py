"""Hidden tests: max_pool2d and avg_pool2d against torch.nn.functional, gradients, bad input."""

import pytest
import torch
import torch.nn.functional as F

from autograder.common.grad import vjp
from autograder.grading import checks

DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}


def draw(rng, lo, hi):
    return int(torch.randint(lo, hi + 1, (), generator=rng))


def random_pool(rng, overlapping=False):
    """(x shape, kwargs) of a valid pooling: padding at most half the kernel, some padding."""
    kh, kw = draw(rng, 1, 4), draw(rng, 2, 4)
    stride = None if not overlapping and draw(rng, 0, 1) else (draw(rng, 1, kh), draw(rng, 1, 3))
    padding = (draw(rng, 0, kh // 2), max(1, draw(rng, 0, kw // 2)))
    shape = (draw(rng, 1, 3), draw(rng, 1, 4), kh + draw(rng, 0, 7), kw + draw(rng, 0, 7))
    return shape, {"kernel_size": (kh, kw), "stride": stride, "padding": padding}


def randn(shape, rng, dtype, device):
    return torch.randn(shape, generator=rng, dtype=dtype).to(device)


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("Pooling keeps B and C; H_out = conv_output_size(H, kH, sH, pH) and likewise "
                  "W_out, with the stride defaulting to the kernel size.")
def test_pool_shapes(submission, rng, device):
    for _ in range(8):
        shape, kw = random_pool(rng)
        x = randn(shape, rng, torch.float32, device)
        checks.assert_shape(submission.max_pool2d(x, **kw), F.max_pool2d(x, **kw).shape,
                            what=f"max_pool2d of {shape} with {kw}")
        checks.assert_shape(submission.avg_pool2d(x, **kw), F.avg_pool2d(x, **kw).shape,
                            what=f"avg_pool2d of {shape} with {kw}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("Each output is the maximum of its window; pad with -inf (not zeros: the inputs "
                  "can be negative) and default the stride to the kernel size.")
def test_max_pool2d_values(submission, rng, device, dtype):
    for _ in range(8):
        shape, kw = random_pool(rng)
        x = randn(shape, rng, dtype, device)
        checks.assert_close(submission.max_pool2d(x, **kw), F.max_pool2d(x, **kw),
                            **TOL[dtype], what=f"max_pool2d with {kw}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("Called with only a kernel size, pooling uses non-overlapping windows: the "
                  "stride defaults to the kernel size.")
def test_max_pool2d_default_stride(submission, rng, device):
    for k in (2, 3, (2, 3)):
        x = randn((2, 3, 9, 8), rng, torch.float64, device)
        checks.assert_close(submission.max_pool2d(x, k), F.max_pool2d(x, k),
                            **TOL[torch.float64], what=f"max_pool2d(x, {k})")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("The gradient of each max-pool output flows to the one input that was its "
                  "maximum; an input that is the maximum of several overlapping windows "
                  "collects all their gradients.")
def test_max_pool2d_gradient(submission, rng, device):
    for _ in range(6):
        shape, kw = random_pool(rng, overlapping=True)
        x = randn(shape, rng, torch.float64, device)
        g = randn(F.max_pool2d(x, **kw).shape, rng, torch.float64, device)
        checks.assert_grads_close(vjp(submission.max_pool2d, x, cotangent=g, **kw),
                                  vjp(F.max_pool2d, x, cotangent=g, **kw),
                                  atol=1e-12, rtol=1e-10)


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("With non-overlapping windows, max pooling passes each output's gradient to "
                  "exactly one input, its window's argmax; every other input gets zero (not a "
                  "share of the gradient, not the whole window).")
def test_max_pool2d_gradient_goes_to_argmax_only(submission, rng, device):
    x = randn((2, 3, 8, 6), rng, torch.float64, device)
    g = torch.rand(2, 3, 4, 3, generator=rng, dtype=torch.float64).to(device) + 0.5
    grad = vjp(submission.max_pool2d, x, cotangent=g, kernel_size=2).input_grads[0]
    checks.expect(grad is not None, "gradient", "max_pool2d gives x no gradient")
    _, idx = F.max_pool2d_with_indices(x, 2)  # (2, 3, 4, 3) flat indices into each 8 x 6 map
    expected = torch.zeros_like(x).flatten(2).scatter(2, idx.flatten(2), g.flatten(2))
    checks.expect(int((grad != 0).sum()) == g.numel(), "gradient",
                  "the gradient is not on exactly one input per window")
    checks.assert_close(grad, expected.view_as(x), atol=1e-12, failure_class="gradient",
                        what="max_pool2d gradient")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("Each output is the mean of its kH*kW window, the zero padding included in the "
                  "count (divide by kH*kW always); the stride defaults to the kernel size.")
def test_avg_pool2d_values(submission, rng, device, dtype):
    for _ in range(8):
        shape, kw = random_pool(rng)
        x = randn(shape, rng, dtype, device)
        checks.assert_close(submission.avg_pool2d(x, **kw), F.avg_pool2d(x, **kw),
                            **TOL[dtype], what=f"avg_pool2d with {kw}")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Each input receives 1/(kH*kW) of the gradient of every window it lies in.")
def test_avg_pool2d_gradient(submission, rng, device):
    for _ in range(4):
        shape, kw = random_pool(rng, overlapping=True)
        x = randn(shape, rng, torch.float64, device)
        g = randn(F.avg_pool2d(x, **kw).shape, rng, torch.float64, device)
        checks.assert_grads_close(vjp(submission.avg_pool2d, x, cotangent=g, **kw),
                                  vjp(F.avg_pool2d, x, cotangent=g, **kw),
                                  atol=1e-12, rtol=1e-10)


BAD_POOLS = {
    # name: (x shape, kernel_size, stride, padding)
    "padding-more-than-half-kernel": ((1, 2, 6, 6), 2, None, 2),
    "kernel-larger-than-padded-input": ((1, 2, 2, 9), 5, 1, 1),
    "negative-padding": ((1, 2, 6, 6), 3, 1, -1),
    "input-not-4d": ((2, 6, 6), 2, None, 0),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("pool", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("case", list(BAD_POOLS))
@pytest.mark.hint("Pooling must raise ValueError when x is not 4-D, the padding is negative or "
                  "more than half the kernel, or the kernel does not fit in the padded input.")
def test_pool_rejects_bad_input(submission, rng, pool, case):
    shape, kernel, stride, padding = BAD_POOLS[case]
    x = torch.randn(shape, generator=rng)
    checks.assert_raises(ValueError, getattr(submission, pool), x, kernel, stride, padding)
