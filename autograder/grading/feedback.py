"""What a failing test tells the student, built on the trusted side only.

For a hidden test the student sees the check's name, the failure class, the instructor's hint
and where their own code was when it failed: ``file:line``, the source line and the enclosing
function, all looked up in the grader's own copy of the submission (the intake). Nothing the
worker produced is shown: not the exception's message, not its repr, not the frames' source
lines or function names (the worker could forge any of them to carry a test's inputs out), and
an exception's class only when it is one of Python's own. Public tests keep their full detail.

Every string from the worker passes :func:`clean` at the boundary: invalid Unicode (lone
surrogates) replaced, control characters dropped, length capped.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
from typing import Any

from autograder.sandbox.intake import Intake

MAX_TEXT = 2000
MAX_FRAMES = 40
HIDDEN_FRAMES = 3
"""Frames a hidden test shows, innermost last. The worker chooses which of its own lines the
frames point at, so each frame could carry a few bits out; three keep the call chain useful
and the channel narrow."""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def clean(text: Any, limit: int = MAX_TEXT) -> str:
    """``text`` as safe, printable, valid Unicode of at most ``limit`` characters."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = _CONTROL.sub("", valid_unicode(text))
    return text if len(text) <= limit else text[:limit] + " ..."


def valid_unicode(value: Any) -> Any:
    """``value`` (strings inside lists and dicts too) with lone surrogates replaced: text that
    every output (a terminal, a file, JSON, a signature's canonical bytes) can encode."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [valid_unicode(v) for v in value]
    if isinstance(value, dict):
        return {valid_unicode(k): valid_unicode(v) for k, v in value.items()}
    return value


def clean_frames(frames: Any) -> list[tuple[str, int, str, str]]:
    """Frames from the worker, shape-checked: ``(file, line, function, source)`` each; any
    entry of another shape is dropped."""
    out = []
    if not isinstance(frames, (list, tuple)):
        return out
    for f in frames[-MAX_FRAMES:]:
        if (isinstance(f, (list, tuple)) and len(f) == 4 and isinstance(f[1], int)
                and not isinstance(f[1], bool)):
            out.append((clean(f[0], 300), f[1], clean(f[2], 200), clean(f[3], 300)))
    return out


ENGINE_EXCEPTIONS = ("ForbiddenAPIError",)  # raised in the worker by the engine's own guards


def builtin_exception_name(type_name: str) -> str:
    """The class name if it is one of Python's own exceptions (or the engine's), else a
    neutral phrase."""
    if type_name in ENGINE_EXCEPTIONS:
        return type_name
    base = getattr(builtins, type_name, None) if type_name.isidentifier() else None
    if isinstance(base, type) and issubclass(base, BaseException):
        return type_name
    return "an exception of a class your code defines"


@functools.lru_cache(maxsize=64)
def _functions(source: str) -> list[tuple[int, int, str]]:
    """``(first line, last line, qualified name)`` of every function and class in ``source``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    found: list[tuple[int, int, str]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                found.append((child.lineno, child.end_lineno or child.lineno, name))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def trusted_frames(frames: list[tuple[str, int, str, str]], intake: Intake | None
                   ) -> list[tuple[str, int, str, str]]:
    """The frames that point into the submission as the intake read it, with the function and
    source line taken from that copy (frames pointing anywhere else are dropped)."""
    if intake is None:
        return []
    out = []
    for file, line, _, _ in frames:
        rel = file[len(intake.package) + 1:] if file.startswith(intake.package + "/") else None
        data = intake.files.get(rel) if rel else None
        if data is None or not rel.endswith(".py"):
            continue
        source = data.decode("utf-8", errors="replace")
        lines = source.splitlines()
        if not 1 <= line <= len(lines):
            continue
        enclosing = [name for first, last, name in _functions(source) if first <= line <= last]
        out.append((f"{intake.package}/{rel}", line, enclosing[-1] if enclosing else "<module>",
                    clean(lines[line - 1].strip(), 300)))
    return out


def traceback_text(type_name: str, frames: list[tuple[str, int, str, str]],
                   message: str | None) -> str:
    """Frames formatted like a Python traceback, then the exception (and its message, for
    public tests)."""
    lines = ["Traceback (your code, most recent call last):"] if frames else []
    for file, line, func, src in frames:
        lines.append(f'  File "{file}", line {line}, in {func}')
        if src:
            lines.append(f"    {src}")
    lines.append(f"{type_name}: {message}" if message else type_name)
    return "\n".join(lines)


def hidden_traceback(type_name: str, trusted: list[tuple[str, int, str, str]]) -> str:
    """What a hidden test shows of an exception: trusted frames and a builtin class name."""
    return traceback_text(builtin_exception_name(type_name), trusted[-HIDDEN_FRAMES:], None) + (
        "\n(the message is not shown for hidden tests)")
