"""Hidden tests: cross_entropy (reductions, huge logits, gradients, bad input)."""

import pytest
import torch

from autograder.common.grad import vjp
from autograder.grading import checks

SIZES = [(8, 5), (1, 3), (33, 10)]  # (B, C)
DTYPES = [torch.float32, torch.float64]
TOL = {torch.float32: {"atol": 1e-5, "rtol": 1e-5}, torch.float64: {"atol": 1e-11, "rtol": 1e-10}}
BIG = 1e4


def batch(B, C, rng, dtype, device, scale=3.0):
    """Logits (B, C) and targets (B,) int64 in [0, C)."""
    logits = torch.randn(B, C, generator=rng, dtype=dtype) * scale
    targets = torch.randint(0, C, (B,), generator=rng)
    return logits.to(device), targets.to(device)


@pytest.mark.points(1)
@pytest.mark.category("value")
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.hint("The loss of row b is -log_softmax(logits)[b, targets[b]]; 'mean' averages over "
                  "the batch, 'sum' adds, 'none' returns the (B,) vector; the result keeps the "
                  "logits' dtype.")
def test_cross_entropy_values(submission, reference, rng, device, reduction):
    for dtype in DTYPES:
        for B, C in SIZES:
            logits, targets = batch(B, C, rng, dtype, device)
            checks.assert_close(submission.cross_entropy(logits, targets, reduction=reduction),
                                reference.cross_entropy(logits, targets, reduction=reduction),
                                **TOL[dtype], what=f"cross_entropy({reduction!r}), B={B}, C={C}")


@pytest.mark.points(2)
@pytest.mark.category("value")
@pytest.mark.hint("With logits of size 1e4 the loss must stay finite: compute it from a stable "
                  "log_softmax, never as log(softmax) or from exp(logits) directly.")
def test_cross_entropy_large_logits(submission, reference, rng, device):
    for dtype in DTYPES:
        tol = 4 * torch.finfo(dtype).eps * BIG
        for B, C in SIZES:
            logits, targets = batch(B, C, rng, dtype, device, scale=BIG)
            shift = (torch.randint(0, 2, (B, 1), generator=rng).to(dtype) * 2 - 1) * BIG
            for x in (logits, logits / BIG * 3 + shift.to(device)):
                checks.assert_close(submission.cross_entropy(x, targets, reduction="none"),
                                    reference.cross_entropy(x, targets, reduction="none"),
                                    atol=tol, rtol=tol, what=f"{dtype} cross_entropy, |logits|~1e4")


@pytest.mark.points(2)
@pytest.mark.category("gradient")
@pytest.mark.hint("The gradient of the mean loss with respect to the logits is "
                  "(softmax(logits) - onehot(targets)) / B; build the loss from differentiable "
                  "operations on the logits.")
def test_cross_entropy_gradient(submission, reference, rng, device):
    for B, C in SIZES:
        logits, targets = batch(B, C, rng, torch.float64, device)
        for reduction, g in [("mean", torch.tensor(1.7, dtype=torch.float64)),
                             ("sum", torch.tensor(-0.3, dtype=torch.float64)),
                             ("none", torch.randn(B, generator=rng, dtype=torch.float64))]:
            g = g.to(device)
            checks.assert_grads_close(
                vjp(submission.cross_entropy, logits, targets, cotangent=g, reduction=reduction),
                vjp(reference.cross_entropy, logits, targets, cotangent=g, reduction=reduction),
                atol=1e-10, rtol=1e-8)


BAD_INPUTS = {
    # name: (logits shape, targets, reduction); C = 4 classes
    "targets-wrong-length": ((3, 4), [0, 1, 2, 3], "mean"),
    "target-equals-num-classes": ((3, 4), [0, 4, 1], "mean"),
    "negative-target": ((3, 4), [2, -1, 0], "sum"),
    "unknown-reduction": ((3, 4), [0, 1, 2], "average"),
}


@pytest.mark.points(0.5)
@pytest.mark.category("error-handling")
@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.hint("Raise ValueError before computing anything when targets is not (B,) for logits "
                  "(B, C), a target lies outside [0, C) (mind both ends), or reduction is not "
                  "'mean', 'sum' or 'none'.")
def test_cross_entropy_rejects_bad_input(submission, rng, case):
    # on the CPU: an out-of-range index on a GPU is a device-side assert, not an exception
    shape, targets, reduction = BAD_INPUTS[case]
    logits = torch.randn(shape, generator=rng)
    targets = torch.tensor(targets, dtype=torch.int64)
    checks.assert_raises(ValueError, submission.cross_entropy, logits, targets,
                         reduction=reduction)
