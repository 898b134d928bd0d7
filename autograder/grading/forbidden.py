""""From scratch" enforcement: forbidden APIs, checked on the source and at run time.

Names are dotted paths such as ``torch.nn.functional.softmax``, ``torch.nn.Linear`` or a tensor
method ``torch.Tensor.softmax``.

* :func:`scan_source` parses the submission (never runs it) and reports every use of a
  forbidden name, following ``import ... as`` aliases and ``from ... import`` names; a tensor
  method is reported wherever an attribute of that name is taken (``x.softmax(...)``).
* the run-time guards live in the worker (:mod:`autograder.worker.guards`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass


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


def scan_sources(sources: dict[str, str], package: str,
                 forbidden: tuple[str, ...]) -> list[Violation]:
    """Static check of a package's ``.py`` sources (relative path to text, as the intake read
    them: the very bytes the worker runs)."""
    if not forbidden:
        return []
    found: list[Violation] = []
    for rel, text in sorted(sources.items()):
        found += scan_source(text, f"{package}/{rel}", forbidden)
    return found
