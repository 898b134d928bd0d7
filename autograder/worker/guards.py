"""Run-time "from scratch" checks in the worker: a second line behind the trusted side's rule.

The decision is made on the trusted side, from the sources (:mod:`autograder.grading.forbidden`);
these only catch at run time what got past it, costing the test that made the call:

* :func:`install_guards` wraps each forbidden Python callable so that a call *made directly from
  submission code* raises :class:`ForbiddenAPIError`; calls from inside torch (which may use the
  same functions) pass.
* :func:`operator_check`, entered around a call, sees every ATen operator torch dispatches
  (whatever Python name, C binding or alias reached it) and raises :class:`ForbiddenAPIError`
  for a forbidden one (``aten::_softmax``).
"""

from __future__ import annotations

import functools
import importlib
import sys
from typing import Any


class ForbiddenAPIError(RuntimeError):
    """Raised in the worker when submission code calls a forbidden API."""


def _resolve(name: str) -> tuple[Any, str, Any] | None:
    """``(owner, attribute, value)`` for a dotted name, importing its module."""
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            owner: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for p in parts[i:-1]:
                owner = getattr(owner, p)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            return None
    return None


def install_guards(forbidden: tuple[str, ...], submission_root: str) -> list[str]:
    """Wrap each forbidden callable; return the names that could not be guarded."""
    unguarded = []
    for name in forbidden:
        found = _resolve(name)
        if found is None or not callable(found[2]):
            unguarded.append(name)
            continue
        owner, attr, value = found
        try:
            setattr(owner, attr, _guard(value, name, submission_root))
        except (AttributeError, TypeError):
            unguarded.append(name)
    return unguarded


def _called_from_submission(root: str) -> bool:
    frame = sys._getframe(2)
    return frame.f_code.co_filename.startswith(root)


def _guard(value: Any, name: str, root: str) -> Any:
    message = f"{name} is forbidden in this assignment: implement it from scratch"
    if isinstance(value, type):
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if _called_from_submission(root):
                raise ForbiddenAPIError(message)
            value.__init__(self, *args, **kwargs)
        return type(value.__name__, (value,), {"__init__": __init__,
                                              "__module__": value.__module__})

    @functools.wraps(value)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if _called_from_submission(root):
            raise ForbiddenAPIError(message)
        return value(*args, **kwargs)
    return guarded


def operator_check(forbidden: frozenset[str]) -> Any:
    """A dispatch mode (a context manager) refusing the operators in ``forbidden`` (schema
    names such as ``aten::_softmax``)."""
    return _operator_check_class()(forbidden)


@functools.cache
def _operator_check_class() -> type:
    """Defined on first use: torch is imported only after the worker has confined itself."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class OperatorCheck(TorchDispatchMode):
        def __init__(self, banned: frozenset[str]):
            super().__init__()
            self.banned = banned

        def __torch_dispatch__(self, func: Any, types: Any, args: Any = (),
                               kwargs: Any = None) -> Any:
            name = func._schema.name
            if name in self.banned:
                raise ForbiddenAPIError(
                    f"the operator {name} is forbidden in this assignment (the run-time check "
                    "saw your code reach it): implement it from scratch")
            return func(*args, **(kwargs or {}))

    return OperatorCheck
