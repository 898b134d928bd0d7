"""The "from scratch" rule, decided on the trusted side from the very files the worker runs.

:func:`analyse` reads the submitted package (it never runs it) and fails closed. A violation is

* **forbidden**: a use of a name the assignment forbids (``torch.nn.functional.softmax``, a
  tensor method such as ``torch.Tensor.softmax`` wherever an attribute of that name is taken),
  followed through ``import ... as`` and ``from ... import``; the same object under another path
  (``torch.nn.modules.activation.Softmax`` is ``torch.nn.Softmax``); and its *family*: any
  imported name whose last part is a forbidden one's, case and underscores aside
  (``torch.special.softmax``, ``scipy.special.softmax``, ``nn.Softmax`` when ``softmax`` is
  forbidden);
* **dynamic**: access a static check cannot follow: ``getattr``/``setattr``/``delattr`` with a
  non-literal name or taken as a value, ``__import__``, ``eval``, ``exec``, ``compile``,
  ``globals``, ``locals``, ``vars``; the introspection attributes (``__dict__``, ``__mro__``,
  ``__wrapped__``, ``__globals__``, ...); modules that reach names by string or run code
  (``importlib``, ``sys.modules``, ``inspect`` beyond ``signature``, ``pickle``, ``ctypes``,
  ``operator.attrgetter``, ``os.system``, ...), ``torch.ops``, ``torch.library``,
  ``torch.overrides``, ``torch.jit``, ``torch.load`` without ``weights_only=True``;
* **private**: a ``_private`` part of an imported name (``torch._C``, ``torch._foreach_add``),
  or the grader's own modules (only ``autograder.support`` is course code);
* **unparseable** or **compiled**: a ``.py`` file Python cannot parse, or an extension module.

An assignment may allow some of these (``allow`` in ``assignment.toml``).

**How a violation is scored.** Each violation lies in the definitions around it (its *owners*:
``CNN`` and ``forward`` for a line in ``CNN.forward``; the bound names for an import, or for an
assignment that calls nothing, at module level). A test loses its points when it exercised an
owner: the names the test asked the submission for (``submission.CNN``, ``model.generate``),
closed over the names each definition's body mentions (calls, attributes, literal ``getattr``
names; a class brings all its methods). Code that runs at import time (other module-level
statements, decorators other than the usual ones, default values, base classes, unparseable or
compiled files) costs every test. The analysis is by name, so it errs towards charging a test.
"""

from __future__ import annotations

import ast
import importlib.machinery
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

DYNAMIC_NAMES = frozenset({
    "getattr", "setattr", "delattr", "__import__", "eval", "exec", "compile", "globals",
    "locals", "vars", "breakpoint", "__builtins__", "__loader__", "__spec__"})
NAME_ARGUMENT = frozenset({"getattr", "setattr", "delattr"})  # fine with a literal name
DYNAMIC_ATTRIBUTES = frozenset({
    "__dict__", "__mro__", "__bases__", "__base__", "__subclasses__", "__wrapped__",
    "__globals__", "__code__", "__closure__", "__builtins__", "__getattribute__", "__self__",
    "__func__", "__loader__", "__spec__", "__reduce__", "__reduce_ex__", "__defaults__",
    "__kwdefaults__", "__import__", "__torch_function__", "__torch_dispatch__",
    "__set_name__", "__init_subclass__", "__class_getitem__", "f_globals", "f_locals",
    "f_back", "gi_frame", "tb_frame"})
# modules that reach names by string, run code or load it: each may be used only for the
# attributes listed (None: not at all)
RISKY_MODULES: dict[str, frozenset[str]] = {
    "sys": frozenset({"argv", "exit", "stdout", "stderr", "stdin", "version_info", "version",
                      "platform", "maxsize", "float_info", "byteorder"}),
    "os": frozenset({"path", "environ", "getenv", "getcwd", "cpu_count", "makedirs", "mkdir",
                     "listdir", "sep", "linesep", "fspath", "PathLike", "remove", "unlink",
                     "rename", "replace", "scandir", "stat", "walk", "devnull", "name"}),
    "inspect": frozenset({"signature", "Signature", "Parameter", "isclass", "isfunction",
                          "ismethod", "cleandoc", "getdoc"}),
    "operator": frozenset({"add", "sub", "mul", "truediv", "floordiv", "mod", "neg", "pos",
                           "abs", "eq", "ne", "lt", "le", "gt", "ge", "and_", "or_", "xor",
                           "not_", "itemgetter", "index", "matmul", "pow", "contains",
                           "concat"}),
    "types": frozenset({"SimpleNamespace", "GeneratorType", "NoneType"}),
    **{name: frozenset() for name in (
        "importlib", "builtins", "ctypes", "gc", "marshal", "pickle", "copyreg", "runpy",
        "code", "codeop", "pydoc", "pkgutil", "dill", "cloudpickle", "joblib", "subprocess",
        "multiprocessing", "_thread", "imp", "zipimport", "shelve", "dis", "linecache",
        "tracemalloc", "sysconfig", "site", "torch.ops", "torch.library", "torch.overrides",
        "torch.hub", "torch.package", "torch.jit", "torch.fx", "torch.classes",
        "torch.utils.cpp_extension", "numpy.ctypeslib")},
}
SAFE_DECORATORS = frozenset({
    "staticmethod", "classmethod", "property", "setter", "getter", "deleter", "abstractmethod",
    "dataclass", "wraps", "cache", "lru_cache", "cached_property", "no_grad", "inference_mode",
    "enable_grad", "overload", "override", "total_ordering", "contextmanager"})
EXTENSION_SUFFIXES = tuple(importlib.machinery.EXTENSION_SUFFIXES) + (".so", ".pyd", ".dll",
                                                                      ".dylib")
KINDS = {
    "forbidden": "forbidden in this assignment",
    "dynamic": "dynamic access, which the from-scratch check cannot follow",
    "private": "off limits (private names, the grader's own modules)",
    "unparseable": "a file the from-scratch check cannot read fails it",
    "compiled": "compiled code, which the from-scratch check cannot read",
}


@dataclass(frozen=True)
class Violation:
    """One breach of the rule: where, what, which kind, and the definitions it lies in."""

    file: str
    line: int
    name: str
    kind: str = "forbidden"
    owners: tuple[str, ...] = ()  # () : import-time code, which every test runs

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.name}: {KINDS[self.kind]}"


@dataclass
class Analysis:
    """The package's violations and, per definition name, the names its body mentions."""

    violations: list[Violation] = field(default_factory=list)
    mentions: dict[str, set[str]] = field(default_factory=dict)

    def reachable(self, touched: Iterable[str]) -> set[str]:
        """Definition names a test that asked for ``touched`` may have run."""
        seen: set[str] = set()
        todo = [n for n in touched if n in self.mentions]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += [m for m in self.mentions[name] if m in self.mentions and m not in seen]
        return seen

    def charged(self, touched: Iterable[str] | None) -> list[Violation]:
        """The violations a test is charged with (``touched=None``: it is not known what the
        test used, as when the submission runs in-process; every violation then)."""
        if touched is None:
            return list(self.violations)
        reach = self.reachable(touched)
        return [v for v in self.violations if not v.owners or reach.intersection(v.owners)]


def analyse(files: dict[str, bytes], package: str, forbidden: tuple[str, ...],
            allow: tuple[str, ...] = ()) -> Analysis:
    """The rule applied to a package: ``files`` maps relative paths to bytes, as the intake
    read them (the very bytes the worker runs)."""
    result = Analysis()
    if not forbidden:
        return result
    rule = _Rule(forbidden, package)
    for rel, data in sorted(files.items()):
        shown = f"{package}/{rel}"
        if rel.endswith(EXTENSION_SUFFIXES):
            result.violations.append(Violation(shown, 0, "extension module", "compiled"))
        elif rel.endswith(".py"):
            try:
                tree = ast.parse(data, shown)  # bytes: a BOM or coding cookie as Python reads it
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                line = getattr(exc, "lineno", 0) or 0
                result.violations.append(Violation(shown, line, "cannot be parsed",
                                                   "unparseable"))
                continue
            _File(rule, shown, tree, result).run()
    result.violations = sorted(
        {v for v in result.violations if not _allowed(v.name, allow)},
        key=lambda v: (v.file, v.line, v.name))
    return result


def _allowed(name: str, allow: tuple[str, ...]) -> bool:
    return any(name == a or name.startswith((a + ".", a + " ")) for a in allow)


def _norm(name: str) -> str:
    return name.lower().replace("_", "")


class _Rule:
    """What the assignment forbids, prepared for matching."""

    def __init__(self, forbidden: tuple[str, ...], package: str):
        self.forbidden = forbidden
        self.package = package
        self.family = {_norm(f.rsplit(".", 1)[-1]) for f in forbidden}
        self.methods = {f.rsplit(".", 1)[1] for f in forbidden if f.startswith("torch.Tensor.")}
        tensor = _lookup_loaded("torch.Tensor")
        if tensor is not None:  # tensor methods of the family: x.softmax when softmax is banned
            self.methods |= {n for n in dir(tensor)
                             if not n.startswith("_") and _norm(n) in self.family}
        # the forbidden objects themselves, as far as they are loaded here (nothing is
        # imported for the check: a forbidden library may be large or absent)
        self.objects = [o for o in map(_lookup_loaded, forbidden) if o is not None]

    def check_dotted(self, name: str, bare: bool = False) -> tuple[str, str] | None:
        """``(kind, shown name)`` when an imported dotted name breaks the rule; ``bare``: the
        name is used as a value, not as the start of an attribute chain."""
        parts = name.split(".")
        if parts[0] == self.package:
            return None
        if parts[0] == "autograder" and parts[:2] != ["autograder", "support"]:
            return "private", name
        if any(p.startswith("_") and not (p.startswith("__") and p.endswith("__"))
               for p in parts[1:]):
            return "private", name
        for i in range(1, len(parts) + 1):
            prefix = ".".join(parts[:i])
            if prefix not in RISKY_MODULES:
                continue
            if i == len(parts):
                if bare:  # `m = sys`: what is then reached through m cannot be followed
                    return "dynamic", f"{prefix} taken as a value"
            elif parts[i] not in RISKY_MODULES[prefix]:
                return "dynamic", ".".join(parts[:i + 1])
            break
        if any(name == f or name.startswith(f + ".") for f in self.forbidden):
            return "forbidden", name
        if bare and isinstance(_lookup_loaded(name), ModuleType) and any(
                f.startswith(name + ".") for f in self.forbidden):
            return "dynamic", f"{name} taken as a value"  # `g = F`, then g.softmax
        if len(parts) > 1 and _norm(parts[-1]) in self.family:
            return "forbidden", name
        for i in range(2, len(parts) + 1):
            obj = _lookup_loaded(".".join(parts[:i]))
            if obj is not None and any(obj is o for o in self.objects):
                return "forbidden", ".".join(parts[:i])
        return None


class _File:
    """One parsed file: aliases, definitions, and the walk that finds violations."""

    def __init__(self, rule: _Rule, shown: str, tree: ast.Module, out: Analysis):
        self.rule, self.shown, self.tree, self.out = rule, shown, tree, out
        self.aliases = _aliases(tree, rule.package)
        self.checked: set[int] = set()  # inner nodes of a dotted chain already checked

    def run(self) -> None:
        for node, owners, top in _walk(self.tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.out.mentions.setdefault(node.name, set()).update(_mentioned(node))
            elif top and isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                for target in _bound_names(node):
                    self.out.mentions.setdefault(target, set()).update(
                        _mentioned(node.value) if node.value is not None else ())
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                bound = [a.asname or a.name.split(".")[0] for a in node.names]
                for name in bound:
                    self.out.mentions.setdefault(name, set())
                if top:
                    owners = owners + tuple(bound)
            for line, name, kind in self.check(node):
                self.out.violations.append(Violation(self.shown, line, name, kind, owners))

    def check(self, node: ast.AST) -> Iterator[tuple[int, str, str]]:
        line = getattr(node, "lineno", 0)
        if id(node) in self.checked:
            return
        if isinstance(node, ast.Call):
            yield from self.check_call(node)
        elif isinstance(node, ast.Name):
            if node.id in DYNAMIC_NAMES:
                yield line, node.id, "dynamic"
            else:
                found = self.dotted(node)
                if found is not None:
                    yield from self.verdict(node, found, bare=True)
        elif isinstance(node, ast.Attribute):
            if node.attr in DYNAMIC_ATTRIBUTES:
                yield line, node.attr, "dynamic"
            found = self.dotted(node)
            if found is not None:
                self.mark_chain(node)
                yield from self.verdict(node, found, bare=True)
            else:
                yield from self.method_use(line, node.attr, node.value)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for a in node.names:
                if a.name == "*":
                    yield line, f"from {node.module} import *", "dynamic"
                else:
                    yield from self.verdict(node, f"{node.module}.{a.name}")
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield from self.verdict(node, a.name)

    def check_call(self, node: ast.Call) -> Iterator[tuple[int, str, str]]:
        func, line = node.func, node.lineno
        if isinstance(func, ast.Name) and func.id in NAME_ARGUMENT:
            self.checked.add(id(func))
            if len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and isinstance(
                    node.args[1].value, str):
                attr = node.args[1].value  # getattr(x, "name"): the same as x.name
                owner = self.dotted(node.args[0])
                if owner is not None:
                    yield from self.verdict(node, f"{owner}.{attr}")
                else:
                    yield from self.method_use(line, attr, node.args[0])
                if attr in DYNAMIC_ATTRIBUTES:
                    yield line, attr, "dynamic"
            else:
                yield line, f"{func.id} with a computed name", "dynamic"
        elif self.dotted(func) == "torch.load":
            self.checked.add(id(func))
            self.mark_chain(func)
            if not any(k.arg == "weights_only" and isinstance(k.value, ast.Constant)
                       and k.value.value is True for k in node.keywords):
                yield line, "torch.load without weights_only=True", "dynamic"

    def verdict(self, node: ast.AST, name: str, bare: bool = False
                ) -> Iterator[tuple[int, str, str]]:
        line = getattr(node, "lineno", 0)
        found = self.rule.check_dotted(name, bare)
        if found is not None:
            yield line, found[1], found[0]
        elif name == "torch.load" and bare:  # a call is checked in check_call
            yield line, "torch.load taken as a value", "dynamic"

    def method_use(self, line: int, attr: str, receiver: ast.AST
                   ) -> Iterator[tuple[int, str, str]]:
        """``receiver.attr`` on an object of unknown type: a forbidden tensor method maybe."""
        if attr in self.rule.methods and not _on_self(receiver):
            yield line, f"{attr} (as torch.Tensor.{attr})", "forbidden"

    def mark_chain(self, node: ast.AST) -> None:
        while isinstance(node, ast.Attribute):
            node = node.value
            self.checked.add(id(node))

    def dotted(self, node: ast.AST) -> str | None:
        """``torch.nn.functional.softmax`` for ``F.softmax`` when ``F`` aliases
        ``torch.nn.functional``; a bare name only when it was imported."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name) or node.id not in self.aliases:
            return None
        return ".".join([self.aliases[node.id], *reversed(parts)])


def _aliases(tree: ast.Module, package: str) -> dict[str, str]:
    """Local name -> the absolute dotted name it was imported as (a relative import: a name in
    the package itself)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(
                    ".")[0]
        elif isinstance(node, ast.ImportFrom):
            module = node.module if node.level == 0 else ".".join(
                filter(None, [package, node.module]))
            if module:
                for a in node.names:
                    aliases[a.asname or a.name] = f"{module}.{a.name}"
    return aliases


def _on_self(node: ast.AST) -> bool:
    """``self.x``/``cls.x``/``super().x``: the student's own attribute, not a tensor method."""
    if isinstance(node, ast.Name):
        return node.id in ("self", "cls")
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "super")


def _targets(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[ast.expr]:
    return node.targets if isinstance(node, ast.Assign) else [node.target]


def _bound_names(node: ast.Assign | ast.AnnAssign | ast.AugAssign) -> list[str]:
    names: list[str] = []
    for t in _targets(node):
        for sub in ast.walk(t):
            if isinstance(sub, ast.Name):
                names.append(sub.id)
    return names


def _mentioned(node: ast.AST) -> set[str]:
    """Names, attribute names and literal ``getattr`` names anywhere under ``node``."""
    found: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
        elif isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and (
                sub.func.id in NAME_ARGUMENT | {"hasattr"}) and len(sub.args) >= 2 and (
                isinstance(sub.args[1], ast.Constant) and isinstance(sub.args[1].value, str)):
            found.add(sub.args[1].value)
    return found


def _calls(node: ast.AST) -> bool:
    """Whether evaluating ``node`` calls something (so it may do anything at import)."""
    return any(isinstance(sub, ast.Call) for sub in ast.walk(node))


def _decorator_name(node: ast.expr) -> str:
    while isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else ""


def _walk(tree: ast.Module) -> Iterator[tuple[ast.AST, tuple[str, ...], bool]]:
    """Every node with its owners (see the module docstring); iterative, so a deeply nested
    file cannot exhaust the stack."""
    stack: list[tuple[ast.AST, tuple[str, ...], bool]] = [(tree, (), True)]
    while stack:
        node, owners, top = stack.pop()  # top: module or class level (runs at import)
        yield node, owners, top
        children: list[tuple[ast.AST, tuple[str, ...], bool]] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            at_import = () if top else owners
            escapes = top and any(_decorator_name(d) not in SAFE_DECORATORS
                                  for d in node.decorator_list)
            if isinstance(node, ast.ClassDef):
                escapes |= top and any(k.arg == "metaclass" for k in node.keywords)
                heads: list[ast.AST] = [*node.bases, *node.keywords]
            else:
                heads = [node.args, *([node.returns] if node.returns else [])]
            inner = () if escapes else owners + (node.name,)
            children += [(h, at_import, False) for h in [*node.decorator_list, *heads]]
            children += [(s, inner, isinstance(node, ast.ClassDef) and not escapes)
                         for s in node.body]
        elif top and isinstance(node, ast.Module):
            children += [(s, (), True) for s in node.body]
        elif top and isinstance(node, (ast.Import, ast.ImportFrom)):
            pass  # owned by the names it binds (see _File.run)
        elif top and isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and all(
                isinstance(t, ast.Name) for t in _targets(node)) and not (
                node.value is not None and _calls(node.value)):
            bound = owners + tuple(_bound_names(node))
            children += [(c, bound, False) for c in ast.iter_child_nodes(node)]
        elif top and isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            for name, value in ast.iter_fields(node):
                block = name in ("body", "orelse", "finalbody", "handlers")
                items = value if isinstance(value, list) else [value]
                for c in items:
                    if isinstance(c, ast.AST):
                        children.append((c, owners if block else (), block))
        elif top and isinstance(node, ast.ExceptHandler):
            children += [(s, owners, True) for s in node.body]
            if node.type is not None:
                children.append((node.type, (), False))
        else:
            children += [(c, owners if not top else (), False)
                         for c in ast.iter_child_nodes(node)]
        stack.extend(reversed(children))


def _lookup_loaded(name: str) -> Any:
    """The object a dotted name denotes, through modules already loaded here (never importing
    anything, least of all what a submission names)."""
    parts = name.split(".")
    obj: Any = sys.modules.get(parts[0])
    if obj is None:
        return None
    for p in parts[1:]:
        if not isinstance(obj, (ModuleType, type)):
            return None
        try:
            obj = getattr(obj, p)
        except Exception:  # noqa: BLE001 - a lazy attribute that fails, or none
            return None
    return obj
