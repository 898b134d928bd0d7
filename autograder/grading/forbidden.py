""""From scratch" enforcement: forbidden APIs, checked on the source and at run time.

Names are dotted paths such as ``torch.nn.functional.softmax``, ``torch.nn.Linear`` or a tensor
method ``torch.Tensor.softmax``.

* :func:`scan_source` parses the submission (never runs it) and reports every use of a
  forbidden name, following ``import ... as`` aliases and ``from ... import`` names; a tensor
  method is reported wherever an attribute of that name is taken (``x.softmax(...)``).
* :func:`install_guards` runs in the worker before the submission is imported: it wraps each
  forbidden callable so that a call *made directly from submission code* raises
  :class:`ForbiddenAPIError`; calls from inside torch (which may use the same functions) pass.
"""

from __future__ import annotations

import ast
import functools
import importlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class ForbiddenAPIError(RuntimeError):
    """Raised in the worker when submission code calls a forbidden API."""


@dataclass(frozen=True)
class Violation:
    file: str
    line: int
    name: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: uses {self.name}, which this assignment forbids"


def _methods(forbidden: tuple[str, ...]) -> set[str]:
    return {n.rsplit(".", 1)[1] for n in forbidden if n.startswith("torch.Tensor.")}


def scan_source(source: str, filename: str, forbidden: tuple[str, ...]) -> list[Violation]:
    """Static uses of forbidden names in one file."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return []  # reported when the worker imports the file
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(
                    ".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    methods = _methods(forbidden)
    found: list[Violation] = []
    for node in ast.walk(tree):
        name = _dotted(node, aliases)
        if name is not None and _matches(name, forbidden):
            found.append(Violation(filename, node.lineno, name))
        elif isinstance(node, ast.Attribute) and node.attr in methods and _dotted(
                node.value, aliases) is None:
            found.append(Violation(filename, node.lineno, f"torch.Tensor.{node.attr}"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                full = f"{node.module}.{a.name}"
                if _matches(full, forbidden):
                    found.append(Violation(filename, node.lineno, full))
        elif isinstance(node, ast.Import):  # a forbidden module (`import tiktoken`)
            found += [Violation(filename, node.lineno, a.name) for a in node.names
                      if _matches(a.name, forbidden)]
    return sorted(set(found), key=lambda v: (v.file, v.line, v.name))


def _matches(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    """``torch.nn.functional.softmax`` for ``F.softmax`` when ``F`` aliases torch.nn.functional."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    if not parts:  # a bare name counts only when it was imported from a module
        return aliases[node.id] if "." in aliases[node.id] else None
    return ".".join([aliases[node.id], *reversed(parts)])


def scan_package(package_dir: Path, forbidden: tuple[str, ...]) -> list[Violation]:
    """Static check of every ``.py`` file under ``package_dir``.

    Symbolic links are skipped (the worker's copy of the submission has none either): following
    one could make the trusted process read, and report lines of, a file outside the package.
    """
    if not forbidden:
        return []
    found: list[Violation] = []
    for path in sorted(package_dir.rglob("*.py")):
        if path.is_symlink():  # (rglob does not descend into linked folders)
            continue
        rel = path.relative_to(package_dir.parent).as_posix()
        found += scan_source(path.read_text(errors="replace"), rel, forbidden)
    return found


# -- run time, in the worker --------------------------------------------------------------------

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
