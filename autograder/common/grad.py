"""Vector-Jacobian products, the same on local and remote callables.

For ``y = f(x_1, ..., x_n; theta)`` and a cotangent ``v`` shaped like ``y``, :func:`vjp` returns
``y``, the input gradients ``v^T dy/dx_i`` (``None`` for non-tensor or non-float arguments and
for inputs ``y`` does not depend on) and, when ``f`` is a module or a module's method, the
parameter gradients ``v^T dy/dtheta`` by parameter name. Remote callables compute this in the
worker (:meth:`autograder.grading.proxy.RemoteCallable.vjp`), so a test compares::

    checks.assert_grads_close(vjp(submission.linear, x, w, b, cotangent=g),
                              vjp(reference.linear, x, w, b, cotangent=g))
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class VJP:
    """Result of :func:`vjp`: the output, input gradients aligned with the positional
    arguments, and parameter gradients keyed by ``named_parameters()`` names."""

    output: Any
    input_grads: tuple[torch.Tensor | None, ...]
    param_grads: dict[str, torch.Tensor | None]


def vjp(fn: Callable[..., Any], *args: Any, cotangent: Any, **kwargs: Any) -> VJP:
    """``fn(*args, **kwargs)`` and its vector-Jacobian product with ``cotangent``."""
    remote = getattr(fn, "vjp", None)
    if remote is not None and getattr(fn, "__llmsoc_remote__", False):
        return remote(*args, cotangent=cotangent, **kwargs)
    return local_vjp(fn, args, kwargs, cotangent, owner_module(fn))


def owner_module(fn: Any) -> torch.nn.Module | None:
    """The module whose parameters ``fn`` uses: the module itself or a bound method's owner."""
    if isinstance(fn, torch.nn.Module):
        return fn
    owner = getattr(fn, "__self__", None) if inspect.ismethod(fn) else None
    return owner if isinstance(owner, torch.nn.Module) else None


def _flat_tensors(value: Any, what: str) -> list[torch.Tensor]:
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in _flat_tensors(v, what)]
    raise TypeError(f"{what} must be a tensor or a tuple/list of tensors, "
                    f"got {type(value).__name__}")


def local_vjp(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
              cotangent: Any, module: torch.nn.Module | None) -> VJP:
    """Compute a VJP in this process (the worker calls this for remote callables)."""
    leaves = [a.detach().clone().requires_grad_(True)
              if isinstance(a, torch.Tensor) and (a.is_floating_point() or a.is_complex())
              else a for a in args]
    params = [(n, p) for n, p in module.named_parameters()] if module is not None else []
    with torch.enable_grad():
        output = fn(*leaves, **kwargs)
    outs = _flat_tensors(output, "the output")
    cots = _flat_tensors(cotangent, "the cotangent")
    if len(outs) != len(cots):
        raise ValueError(f"the output has {len(outs)} tensors but the cotangent {len(cots)}")
    for o, c in zip(outs, cots, strict=True):
        if o.shape != c.shape:
            raise ValueError(f"output of shape {tuple(o.shape)} cannot take a cotangent of "
                             f"shape {tuple(c.shape)}")
    wrt = [x for x in leaves if isinstance(x, torch.Tensor) and x.requires_grad]
    wrt += [p for _, p in params if p.requires_grad]
    pairs = [(o, c.to(o.dtype)) for o, c in zip(outs, cots, strict=True) if o.requires_grad]
    if pairs and wrt:
        grads = list(torch.autograd.grad([o for o, _ in pairs], wrt,
                                         grad_outputs=[c for _, c in pairs], allow_unused=True))
    else:  # the output is detached from everything: every gradient is missing
        grads = [None] * len(wrt)
    input_grads = tuple(grads.pop(0) if isinstance(x, torch.Tensor) and x.requires_grad else None
                        for x in leaves)
    param_grads = {n: grads.pop(0) for n, p in params if p.requires_grad}
    detached = _detach(output)
    return VJP(detached, input_grads, param_grads)


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detach(v) for v in value)
    return value
