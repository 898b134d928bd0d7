"""Assertions for graded tests, each failing with a *failure class*.

A hidden test's feedback shows only the failure class and the test's hint, so a test should fail
through one of these helpers (or :func:`fail`) rather than a bare ``assert``; a bare
``AssertionError`` is classified by the test's category. The messages here may contain details
(shapes, values); they are shown for public tests and in instructor views only.

    checks.assert_shape(got, (B, C))
    checks.assert_close(got, expected, atol=1e-6, rtol=1e-5)
    checks.assert_grads_close(got_vjp, ref_vjp)
    checks.expect(acc >= 0.97, "threshold", f"held-out accuracy {acc:.3f} < 0.97")
    checks.assert_raises(ValueError, submission.softmax, bad_input)
    out = checks.assert_inputs_unchanged(submission.mask_tokens, ids, rng_seed)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch


class CheckFailure(AssertionError):
    """A failed check with a failure class from :data:`report.FAILURE_CLASSES`."""

    def __init__(self, failure_class: str, message: str):
        super().__init__(message)
        self.failure_class = failure_class


def fail(failure_class: str, message: str) -> None:
    """Fail the current test with ``failure_class``."""
    raise CheckFailure(failure_class, message)


def expect(condition: Any, failure_class: str, message: str) -> None:
    """Fail with ``failure_class`` unless ``condition`` is true."""
    if not condition:
        fail(failure_class, message)


def _as_tensor(x: Any, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, np.ndarray):
        return torch.from_numpy(x)
    if isinstance(x, (int, float, bool)):  # a Python float is a double: keep its precision
        return torch.tensor(x, dtype=torch.float64 if isinstance(x, float) else None)
    fail("dtype", f"{what} should be a tensor, got {type(x).__name__}")
    raise AssertionError  # unreachable


def assert_shape(got: Any, shape: Sequence[int], what: str = "output") -> None:
    """Fail with ``shape`` unless ``got`` is a tensor/array of exactly ``shape``."""
    t = _as_tensor(got, what)
    expect(tuple(t.shape) == tuple(shape), "shape",
           f"{what} has shape {tuple(t.shape)}, expected {tuple(shape)}")


def assert_close(
    got: Any,
    expected: Any,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-5,
    check_dtype: bool = True,
    what: str = "output",
    failure_class: str = "value",
) -> None:
    """Compare tensors (or nested sequences/dicts of them): ``|got - exp| <= atol + rtol |exp|``.

    Fails with ``shape`` on a shape mismatch, ``dtype`` on a dtype mismatch (when
    ``check_dtype`` and both sides are tensors or arrays; Python numbers compare in float64),
    ``value`` (or ``failure_class``) on values, NaN or Inf where the expected
    value is finite.
    """
    if isinstance(expected, (tuple, list)):
        expect(isinstance(got, (tuple, list)) and len(got) == len(expected), "shape",
               f"{what} should be a sequence of {len(expected)} items")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(g, e, atol=atol, rtol=rtol, check_dtype=check_dtype,
                         what=f"{what}[{i}]", failure_class=failure_class)
        return
    if isinstance(expected, dict):
        expect(isinstance(got, dict) and set(got) == set(expected), "shape",
               f"{what} should be a dict with keys {sorted(expected)}")
        for k in expected:
            assert_close(got[k], expected[k], atol=atol, rtol=rtol, check_dtype=check_dtype,
                         what=f"{what}[{k!r}]", failure_class=failure_class)
        return
    if expected is None:
        expect(got is None, failure_class, f"{what} should be None")
        return
    expect(got is not None, failure_class, f"{what} is missing (None)")
    g, e = _as_tensor(got, what), _as_tensor(expected, "expected")
    expect(g.shape == e.shape, "shape",
           f"{what} has shape {tuple(g.shape)}, expected {tuple(e.shape)}")
    if check_dtype and not isinstance(got, (int, float)) and not isinstance(expected, (int, float)):
        # (a Python number has no tensor dtype to match)
        expect(g.dtype == e.dtype, "dtype", f"{what} has dtype {g.dtype}, expected {e.dtype}")
    g64, e64 = g.to(torch.float64), e.to(torch.float64)
    bad_nan = ~torch.isfinite(g64) & torch.isfinite(e64)
    expect(not bool(bad_nan.any()), failure_class,
           f"{what} has {int(bad_nan.sum())} NaN/Inf values where finite values were expected")
    same_special = (g64 == e64) | (torch.isnan(g64) & torch.isnan(e64))
    err = torch.where(same_special, torch.zeros_like(g64), (g64 - e64).abs())
    bound = atol + rtol * e64.abs().nan_to_num(posinf=0.0, neginf=0.0)
    over = err > bound
    if bool(over.any()):
        worst = float((err - bound)[over].max())
        fail(failure_class, f"{what}: {int(over.sum())} of {g.numel()} values differ "
             f"(worst excess {worst:.3g} over atol={atol}, rtol={rtol})")


def assert_grads_close(got: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """Compare two :class:`autograder.common.grad.VJP` results (input and parameter gradients)."""
    assert_close(got.input_grads, expected.input_grads, atol=atol, rtol=rtol,
                 what="input gradient", failure_class="gradient")
    assert_close(got.param_grads, expected.param_grads, atol=atol, rtol=rtol,
                 what="parameter gradient", failure_class="gradient")


def assert_raises(
    exc_type: type[BaseException] | tuple[type[BaseException], ...],
    fn: Callable[..., Any],
    *args: Any,
    match: str | None = None,
    **kwargs: Any,
) -> BaseException:
    """Fail with ``error-handling`` unless ``fn(*args, **kwargs)`` raises ``exc_type``.

    Works on local and remote callables: a remote exception is re-raised in the trusted process
    as its original builtin type when that type is a builtin (ValueError, TypeError, ...).
    ``match`` is a substring the message must contain (case-insensitive).
    """
    from autograder.grading.errors import NotImplementedBySubmission

    try:
        fn(*args, **kwargs)
    except NotImplementedBySubmission:
        raise
    except exc_type as exc:
        if match is not None and match.lower() not in str(exc).lower():
            fail("error-handling", f"raised {type(exc).__name__} but its message does not "
                 f"mention {match!r}: {exc}")
        return exc
    except Exception as exc:  # noqa: BLE001 - any other exception is the wrong one
        names = exc_type.__name__ if isinstance(exc_type, type) else "/".join(
            t.__name__ for t in exc_type)
        fail("error-handling", f"expected {names}, got {type(exc).__name__}: {exc}")
    names = exc_type.__name__ if isinstance(exc_type, type) else "/".join(
        t.__name__ for t in exc_type)
    fail("error-handling", f"expected {names} to be raised, nothing was raised")
    raise AssertionError  # unreachable


def assert_inputs_unchanged(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)``, failing with ``value`` when the call changed a tensor or array
    argument in place, also inside a list, tuple or dict (a docstring that says the input is
    left unchanged). Works on remote calls, where the worker only ever holds copies, through
    :func:`autograder.grading.proxy.observed_call`."""
    from autograder.grading.proxy import observed_call

    seen = observed_call(fn, *args, **kwargs)
    expect(len(seen.args) == len(args), "value", "the call did not give back its arguments")
    pairs = [(f"argument {i + 1}", a, b)
             for i, (a, b) in enumerate(zip(args, seen.args, strict=True))]
    pairs += [(f"argument {k}", kwargs[k], seen.kwargs.get(k)) for k in kwargs]
    while pairs:
        what, before, after = pairs.pop()
        if isinstance(before, (torch.Tensor, np.ndarray)):
            b, a = _as_tensor(before, what), _as_tensor(after, what)
            expect(a.shape == b.shape and bool(torch.equal(a, b)), "value",
                   f"the call changed its {what} in place; it must leave it unchanged")
        elif isinstance(before, (list, tuple)):
            expect(isinstance(after, (list, tuple)) and len(after) == len(before), "value",
                   f"the call changed its {what} in place; it must leave it unchanged")
            pairs += [(f"{what}[{i}]", x, y) for i, (x, y) in enumerate(zip(before, after,
                                                                               strict=True))]
        elif isinstance(before, dict):
            expect(isinstance(after, dict) and set(after) == set(before), "value",
                   f"the call changed its {what} in place; it must leave it unchanged")
            pairs += [(f"{what}[{k!r}]", before[k], after[k]) for k in before]
    return seen.result
