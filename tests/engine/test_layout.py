"""The engine's layout shows its trust boundary, and imports cross it only in allowed directions.

``worker/`` runs inside the untrusted worker; ``sandbox/`` builds the sandbox from the trusted
side; ``grading/`` is the trusted grading side; ``results/`` is what leaves the grader;
``common/`` is code both sides run (the wire format, VJPs); ``support/`` is course code the
students' packages import. Code that runs in the worker must never import trusted code (it
would then be bound into the worker's root and run next to student code).
"""

from __future__ import annotations

import ast
from pathlib import Path

ENGINE = Path(__file__).resolve().parents[2] / "autograder"
ALLOWED = {  # subpackage -> the engine subpackages its modules may import
    "worker": {"worker", "common"},
    "common": {"common"},
    "support": {"support"},
    "sandbox": {"sandbox"},
    "grading": {"grading", "common", "sandbox"},
    "results": {"results", "grading"},
}
TOP_LEVEL = {"__init__.py", "cli.py", "release.py"}  # entry points: may import anything


def _engine_imports(path: Path) -> set[str]:
    """The ``autograder`` subpackages a module imports (top-level and function-level)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names
                                     if node.module == "autograder"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "autograder" and len(parts) > 1 and parts[1] != "__version__":
                found.add(parts[1])
    return found


def test_the_engine_is_split_by_trust() -> None:
    subpackages = {p.name for p in ENGINE.iterdir() if (p / "__init__.py").is_file()}
    assert subpackages == set(ALLOWED)
    loose = {p.name for p in ENGINE.glob("*.py")}
    assert loose == TOP_LEVEL, "engine modules belong in a subpackage"


def test_imports_only_in_the_allowed_directions() -> None:
    wrong = []
    for sub, allowed in ALLOWED.items():
        for path in sorted((ENGINE / sub).rglob("*.py")):
            bad = _engine_imports(path) - allowed
            if bad:
                wrong.append(f"{path.relative_to(ENGINE)} imports {sorted(bad)}")
    assert wrong == []


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from autograder.grading import seeds\n    import "
                      "autograder.results.signing\n")
    assert _engine_imports(module) == {"grading", "results"}
