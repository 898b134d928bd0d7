"""Hidden tests: softmax and log_softmax (values, overflow, invariants, gradients)."""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

# (shape, dim): the class axis is not always the last one
CASES = [((4, 10), -1), ((3, 5, 6), 1), ((6, 4), 0), ((2, 3, 4, 5), -2)]
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-6, "rtol": 1e-5}, torch.float64: {"atol": 1e-12, "rtol": 1e-10}}
LOG_TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5},
           torch.float64: {"atol": 1e-11, "rtol": 1e-10}}
GRAD_TOL = {"atol": 1e-10, "rtol": 1e-8}
BIG = 1e4  # exp(BIG) overflows and exp(-BIG) underflows in float32 and float64


def randn(shape, rng, dtype, device, scale=3.0):
    return (torch.randn(shape, generator=rng, dtype=dtype) * scale).to(device)


def huge_logits(shape, dim, rng, dtype, device):
    """Two kinds of logits of size ~BIG: moderate ones riding on an offset of +-BIG shared along
    ``dim`` (naive exp overflows or underflows), and ones spread over +-BIG (softmax underflows
    to exactly 0, so log(softmax) is -inf)."""
    offset_shape = list(shape)
    offset_shape[dim] = 1
    sign = torch.randint(0, 2, offset_shape, generator=rng).to(dtype) * 2 - 1
    offset = BIG * sign + torch.randn(shape, generator=rng, dtype=dtype) * 3
    spread = torch.randn(shape, generator=rng, dtype=dtype) * BIG
    return offset.to(device), spread.to(device)


def big_tol(dtype):
    """Rounding x - logsumexp(x) at |x| ~ BIG costs a few ulps of BIG; allow for it."""
    tol = 4 * torch.finfo(dtype).eps * BIG
    return {"atol": tol, "rtol": tol}


@pytest.mark.points(1)
@pytest.mark.category("shape")
@pytest.mark.hint("softmax must return a tensor of exactly the input's shape and dtype, "
                  "for any number of dimensions and any dim (negative ones too).")
def test_softmax_shape_and_dtype(submission, rng, device):
    for shape, dim in [((7,), 0), *CASES]:
        x = randn(shape, rng, torch.float32, device)
        out = submission.softmax(x, dim=dim)
        checks.assert_shape(out, shape, what=f"softmax of a {shape} tensor")
        checks.expect(out.dtype == x.dtype, "dtype", f"softmax returned {out.dtype} for {x.dtype}")


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("Compare your softmax with the definition on small inputs, normalising along "
                  "the `dim` argument (not always the last axis); keep the input's dtype.")
def test_softmax_values(submission, reference, rng, device, dtype):
    for shape, dim in CASES:
        x = randn(shape, rng, dtype, device)
        checks.assert_close(submission.softmax(x, dim=dim), reference.softmax(x, dim=dim),
                            **TOL[dtype], what=f"softmax over dim={dim} of a {shape} tensor")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("Logits of size 1e4 overflow exp() in any float type. softmax is unchanged when "
                  "the same constant is subtracted from every entry along dim; choose it well.")
def test_softmax_large_logits(submission, reference, rng, device):
    for dtype in DTYPES:
        for shape, dim in CASES:
            for x in huge_logits(shape, dim, rng, dtype, device):
                checks.assert_close(submission.softmax(x, dim=dim),
                                    reference.softmax(x, dim=dim), **big_tol(dtype),
                                    what=f"softmax of {dtype} logits of size 1e4")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("softmax outputs are probabilities: non-negative, summing to one along dim, and "
                  "unchanged when a constant is added along dim.")
def test_softmax_sums_to_one_and_is_shift_invariant(submission, rng, device):
    for shape, dim in CASES:
        x = randn(shape, rng, torch.float64, device)
        p = submission.softmax(x, dim=dim)
        checks.expect(bool((p >= 0).all()), "invariant", "softmax returned negative entries")
        checks.assert_close(p.sum(dim=dim), torch.ones_like(x.sum(dim=dim)), atol=1e-12,
                            failure_class="invariant", what="softmax summed along dim")
        shift_shape = list(shape)
        shift_shape[dim] = 1
        c = randn(shift_shape, rng, torch.float64, device, scale=50.0)
        checks.assert_close(submission.softmax(x + c, dim=dim), p, atol=1e-12, rtol=1e-10,
                            failure_class="invariant", what="softmax(x + c) vs softmax(x)")


@pytest.mark.points(1)
@pytest.mark.category("gradient")
@pytest.mark.hint("Build softmax only from differentiable torch operations: going through "
                  "numpy or Python numbers, or detaching the normaliser, cuts the gradient.")
def test_softmax_gradient(submission, reference, rng, device):
    for shape, dim in CASES:
        x = randn(shape, rng, torch.float64, device)
        g = randn(shape, rng, torch.float64, device, scale=1.0)
        checks.assert_grads_close(vjp(submission.softmax, x, cotangent=g, dim=dim),
                                  vjp(reference.softmax, x, cotangent=g, dim=dim), **GRAD_TOL)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("dtype", DTYPES, ids=["float32", "float64"])
@pytest.mark.hint("log_softmax(x)_i = x_i - log(sum_j exp(x_j)) along `dim`; keep the input's "
                  "shape and dtype.")
def test_log_softmax_values(submission, reference, rng, device, dtype):
    for shape, dim in CASES:
        x = randn(shape, rng, dtype, device)
        checks.assert_close(submission.log_softmax(x, dim=dim),
                            reference.log_softmax(x, dim=dim), **LOG_TOL[dtype],
                            what=f"log_softmax over dim={dim} of a {shape} tensor")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("With logits near +-1e4 every entry of log_softmax must stay finite. Neither "
                  "exp(x) nor log(softmax(x)) survives that; the log-sum-exp trick does.")
def test_log_softmax_large_logits(submission, reference, rng, device):
    for dtype in DTYPES:
        for shape, dim in CASES:
            for x in huge_logits(shape, dim, rng, dtype, device):
                checks.assert_close(submission.log_softmax(x, dim=dim),
                                    reference.log_softmax(x, dim=dim), **big_tol(dtype),
                                    what=f"log_softmax of {dtype} logits of size 1e4")


@pytest.mark.points(1)
@pytest.mark.category("invariant")
@pytest.mark.hint("On moderate inputs log_softmax(x) must equal log(softmax(x)), and "
                  "exp(log_softmax(x)) must sum to one along dim.")
def test_log_softmax_is_log_of_softmax(submission, rng, device):
    for shape, dim in CASES:
        x = randn(shape, rng, torch.float64, device)
        logp = submission.log_softmax(x, dim=dim)
        checks.assert_close(logp, submission.softmax(x, dim=dim).log(), atol=1e-10, rtol=1e-10,
                            failure_class="invariant", what="log_softmax vs log(softmax)")
        checks.assert_close(logp.exp().sum(dim=dim), torch.ones_like(x.sum(dim=dim)),
                            atol=1e-12, failure_class="invariant",
                            what="exp(log_softmax) summed along dim")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("The gradient flows through both terms of log_softmax, the shifted logits and "
                  "the log-sum-exp; detaching anything but the max changes it.")
def test_log_softmax_gradient(submission, reference, rng, device):
    for shape, dim in CASES:
        x = randn(shape, rng, torch.float64, device)
        g = randn(shape, rng, torch.float64, device, scale=1.0)
        checks.assert_grads_close(vjp(submission.log_softmax, x, cotangent=g, dim=dim),
                                  vjp(reference.log_softmax, x, cotangent=g, dim=dim), **GRAD_TOL)
