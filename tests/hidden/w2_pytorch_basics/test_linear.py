"""Hidden tests: the functional linear layer."""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

# (leading dims of x, in, out)
CASES = [((5,), 3, 4), ((2, 7), 6, 6), ((2, 3, 4), 8, 1), ((), 5, 2)]
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}


def layer(lead, n_in, n_out, rng, dtype, device):
    """x (*lead, in), weight (out, in), bias (out,)."""
    x = torch.randn(*lead, n_in, generator=rng, dtype=dtype)
    w = torch.randn(n_out, n_in, generator=rng, dtype=dtype)
    b = torch.randn(n_out, generator=rng, dtype=dtype)
    return x.to(device), w.to(device), b.to(device)


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("linear maps x (..., in) to (..., out) for any number of leading dimensions, "
                  "including none; weight is stored (out, in) like nn.Linear's.")
def test_linear_shape(submission, rng, device):
    for lead, n_in, n_out in CASES:
        x, w, b = layer(lead, n_in, n_out, rng, torch.float32, device)
        checks.assert_shape(submission.linear(x, w, b), (*lead, n_out),
                            what=f"linear of x {tuple(x.shape)} with weight {tuple(w.shape)}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("y = x W^T + b: each output feature o is sum_i x[..., i] * weight[o, i] plus "
                  "bias[o]; keep the input's dtype.")
def test_linear_values(submission, reference, rng, device, dtype):
    for lead, n_in, n_out in CASES:
        x, w, b = layer(lead, n_in, n_out, rng, dtype, device)
        checks.assert_close(submission.linear(x, w, b), reference.linear(x, w, b), **TOL[dtype],
                            what=f"linear of x {tuple(x.shape)} with weight {tuple(w.shape)}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.hint("bias=None means no bias at all: y = x W^T.")
def test_linear_without_bias(submission, reference, rng, device):
    for lead, n_in, n_out in CASES:
        x, w, _ = layer(lead, n_in, n_out, rng, torch.float64, device)
        checks.assert_close(submission.linear(x, w, None), reference.linear(x, w, None),
                            **TOL[torch.float64], what="linear without bias")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Gradients must reach x, weight and bias: use differentiable torch operations "
                  "on the tensors you are given, without copying them into new tensors.")
def test_linear_gradient(submission, reference, rng, device):
    for lead, n_in, n_out in CASES:
        x, w, b = layer(lead, n_in, n_out, rng, torch.float64, device)
        g = torch.randn(*lead, n_out, generator=rng, dtype=torch.float64).to(device)
        checks.assert_grads_close(vjp(submission.linear, x, w, b, cotangent=g),
                                  vjp(reference.linear, x, w, b, cotangent=g),
                                  atol=1e-10, rtol=1e-8)


BAD_SHAPES = {
    # name: (x shape, weight shape, bias shape)
    "x-features-differ-from-weight": ((4, 3), (2, 5), (2,)),
    "bias-length-differs-from-out": ((4, 3), (2, 3), (3,)),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_SHAPES))
@pytest.mark.hint("Raise ValueError, with a message naming the shapes, when x's last dimension is "
                  "not weight's in-features or bias is not (out,).")
def test_linear_rejects_mismatched_shapes(submission, rng, case):
    x_shape, w_shape, b_shape = BAD_SHAPES[case]
    x, w, b = (torch.randn(s, generator=rng) for s in (x_shape, w_shape, b_shape))
    checks.assert_raises(ValueError, submission.linear, x, w, b)
