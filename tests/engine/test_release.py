"""Tests for the release pipeline (autograder/release.py), on tiny fake courses."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from autograder.grading.config import Course
from autograder.release import (
    assemble_student_repo,
    build_stubs,
    check_stale,
    release,
    scan_for_leaks,
    strip_solutions,
)

B, E = "# BEGIN SOLUTION", "# END SOLUTION"


def src(text: str) -> str:
    """Dedent a test source and swap the ``<B>``/``<E>`` placeholders for the markers."""
    return textwrap.dedent(text).lstrip("\n").replace("<B>", B).replace("<E>", E)


# --------------------------------------------------------------------------- strip_solutions


def test_simple_region() -> None:
    out = strip_solutions(src("""
        def add(a, b):
            <B>
            return a + b
            <E>
    """))
    assert out == 'def add(a, b):\n    raise NotImplementedError("TODO: implement add")\n'


def test_hint_on_marker() -> None:
    out = strip_solutions(src("""
        def softmax(x):
            <B>: subtract the row maximum first
            z = x - x.max()
            return z
            <E>
    """))
    assert '    raise NotImplementedError("TODO: subtract the row maximum first")\n' in out
    assert "x.max()" not in out


def test_hint_with_quotes_is_escaped() -> None:
    out = strip_solutions(src("""
        def f():
            <B>: use "sum" not \\mean
            pass
            <E>
    """))
    namespace: dict = {}
    exec(compile(out, "<t>", "exec"), namespace)
    with pytest.raises(NotImplementedError, match=r'TODO: use "sum" not \\mean'):
        namespace["f"]()


def test_nested_regions_strip_the_outermost_whole() -> None:
    out = strip_solutions(src("""
        def f(x):
            <B>: outer hint
            y = x
            <B>: inner hint
            y = y + 1
            <E>
            return y
            <E>
    """))
    assert out == 'def f(x):\n    raise NotImplementedError("TODO: outer hint")\n'


def test_methods_get_qualified_names() -> None:
    out = strip_solutions(src("""
        import torch


        class MLP(torch.nn.Module):
            \"\"\"A two-layer perceptron.\"\"\"

            def __init__(self, d):
                super().__init__()
                <B>
                self.lin = torch.nn.Linear(d, d)
                <E>

            @property
            def width(self):
                <B>
                return 1
                <E>

            def forward(
                self,
                x,
            ):
                \"\"\"Docstring with a decoy line:
        def decoy():
                \"\"\"
                if x is not None:
                    <B>
                    x = self.lin(x)
                    <E>
                return x
    """))
    assert '        raise NotImplementedError("TODO: implement MLP.__init__")\n' in out
    assert '        raise NotImplementedError("TODO: implement MLP.width")\n' in out
    assert '            raise NotImplementedError("TODO: implement MLP.forward")\n' in out
    assert "super().__init__()" in out and "self.lin(x)" not in out


def test_nested_function_and_class_level_names() -> None:
    out = strip_solutions(src("""
        def outer():
            def inner():
                <B>
                return 1
                <E>
            return inner


        class Config:
            <B>
            size = 3
            <E>
    """))
    assert "TODO: implement outer.inner" in out
    assert '    raise NotImplementedError("TODO: implement Config")\n' in out


def test_outside_regions_kept_byte_for_byte() -> None:
    before = src('''
        """Module docstring.

        With an equation: y = softmax(x W^T + b).
        """
        import math  # a trailing comment


        def f(x):   # odd  spacing kept
            """Compute f.

            Args:
                x: a float.
            """
            # TODO: use math.exp; mind overflow
            <B>
            return math.exp(x)
            <E>
    ''')
    after = strip_solutions(before)
    head = before.split(B)[0]
    assert after.startswith(head)
    assert after == head.rstrip(" ") + '    raise NotImplementedError("TODO: implement f")\n'


def test_line_endings_and_trailing_text_kept() -> None:
    before = f"def f():\r\n    {B}\r\n    pass\r\n    {E}\r\n\r\nX = 1  # keep\r\n"
    after = strip_solutions(before)
    todo = '    raise NotImplementedError("TODO: implement f")'
    assert after == f"def f():\r\n{todo}\r\n\r\nX = 1  # keep\r\n"


def test_multiple_regions_in_one_function() -> None:
    out = strip_solutions(src("""
        def train(model, data):
            <B>: build the optimizer
            opt = make(model)
            <E>
            for batch in data:
                <B>: one optimisation step
                opt.step(batch)
                <E>
            return model
    """))
    assert out == src("""
        def train(model, data):
            raise NotImplementedError("TODO: build the optimizer")
            for batch in data:
                raise NotImplementedError("TODO: one optimisation step")
            return model
    """)


def test_module_level_region() -> None:
    out = strip_solutions(src("""
        import math

        <B>
        TABLE = [math.sqrt(i) for i in range(4)]
        <E>
    """))
    assert out == 'import math\n\nraise NotImplementedError("TODO: implement this part")\n'


@pytest.mark.parametrize("text, line, what", [
    ("def f():\n    pass\n    <E>\n", 3, "without a matching"),
    ("def f():\n    <B>\n    pass\n", 2, "without a matching"),
    ("def f():\n    <B>\n    <B>\n    pass\n    <E>\n", 2, "without a matching"),
    ("x = 1\n<B>\ny = 2\n<E>\n<E>\n", 5, "without a matching"),
])
def test_unbalanced_markers_name_file_and_line(text: str, line: int, what: str) -> None:
    with pytest.raises(ValueError, match=rf"^mod\.py:{line}: .*{what}"):
        strip_solutions(src(text), "mod.py")


@pytest.mark.parametrize("marker", [
    "#BEGIN SOLUTION", "# begin solution", "# BEGIN SOLUTIONS", "# BEGIN_SOLUTION",
    "## BEGIN SOLUTION", "# BEGIN SOLUTION hint without colon", "#END SOLUTION",
    "# End Solution", "# END SOLUTIONS", "x = 1  # BEGIN SOLUTION",
])
def test_near_miss_markers_raise(marker: str) -> None:
    text = f"def f():\n    {marker}\n    return 1\n"
    with pytest.raises(ValueError, match=r"^m\.py:2: looks like a solution marker"):
        strip_solutions(text, "m.py")


def test_stub_that_does_not_compile_raises_with_filename() -> None:
    text = f"def f(x):\n    if x:\n{B}\n        return 1\n{E}\n    return 0\n"
    with pytest.raises(ValueError, match=r"^pkg/mod\.py: the stub .* does not compile"):
        strip_solutions(text, "pkg/mod.py")


def test_stub_imports_and_raises_todo(tmp_path: Path) -> None:
    stub = strip_solutions(src("""
        \"\"\"A tiny module.\"\"\"


        def scale(x, k=2):
            \"\"\"Return x times k.\"\"\"
            <B>: multiply, do not add
            return x * k
            <E>


        def untouched():
            return 42
    """), "tiny.py")
    path = tmp_path / "tiny_stub.py"
    path.write_text(stub)
    spec = importlib.util.spec_from_file_location("tiny_stub", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.untouched() == 42
    assert module.scale.__doc__ == "Return x times k."
    with pytest.raises(NotImplementedError, match="TODO: multiply, do not add"):
        module.scale(3)


def test_source_without_markers_is_unchanged() -> None:
    text = "import os\n\n\ndef f():\n    return os.sep\n"
    assert strip_solutions(text) == text


# --------------------------------------------------------------------------- fake courses


def make_course(root: Path, name: str = "hw1", files: dict[str, str | bytes] | None = None,
                ) -> Course:
    """A minimal course with one assignment whose solution files are ``files``."""
    (root / "tests" / "public" / name).mkdir(parents=True)
    (root / "tests" / "public" / name / "assignment.toml").write_text('title = "x"\n')
    (root / "tests" / "public" / name / "test_public.py").write_text("def test_ok():\n    pass\n")
    (root / "tests" / "public" / name / "snapshots").mkdir()
    (root / "tests" / "public" / name / "snapshots" / "f.json").write_text("[1, 2]\n")
    (root / "tests" / "hidden" / name).mkdir(parents=True)
    (root / "tests" / "hidden" / name / "test_hidden.py").write_text("SECRET = 1\n")
    files = files if files is not None else {
        "__init__.py": "from .core import f\n",
        "core.py": f"def f(x):\n    {B}\n    return x + 1\n    {E}\n",
        "README.md": "# Homework 1\n\nCompute f.\n",
        "data/table.bin": b"\x00\x01\xff\xfe",
    }
    for rel, content in files.items():
        path = root / "solutions" / name / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    return Course(root)


def add_engine_and_template(root: Path) -> None:
    """A fake engine package (mentioning the markers, as the real one does) and a template."""
    engine = root / "autograder"
    engine.mkdir()
    (engine / "__init__.py").write_text("")
    (engine / "release.py").write_text(f'MARKER = "{B}"\n')
    (engine / "__pycache__").mkdir()
    (engine / "__pycache__" / "release.cpython-311.pyc").write_bytes(b"\x00")
    template = root / "student_template"
    (template / ".github" / "workflows").mkdir(parents=True)
    (template / "README.md").write_text("# Student repo\n")
    (template / ".gitignore").write_text(".venv/\n")
    (template / "pyproject.toml").write_text('[project]\nname = "llmsoc-student"\n')
    (template / ".github" / "workflows" / "grade.yml").write_text("on: push\n")


def rel_files(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


# --------------------------------------------------------------------------- build_stubs


def test_build_stubs_strips_py_and_copies_the_rest(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    sol = course.solution_dir("hw1")
    (sol / "__pycache__").mkdir()
    (sol / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\x00")
    (sol / "figures").mkdir()
    (sol / "figures" / "loss.png").write_bytes(b"png")
    (sol / ".hidden").write_text("x")
    out = tmp_path / "out"
    written = build_stubs(course, "hw1", out)
    assert rel_files(out) == {"__init__.py", "core.py", "README.md", "data/table.bin"}
    assert sorted(written) == sorted(out / r for r in rel_files(out))
    assert (out / "data" / "table.bin").read_bytes() == b"\x00\x01\xff\xfe"
    assert (out / "README.md").read_text() == "# Homework 1\n\nCompute f.\n"
    assert "return x + 1" not in (out / "core.py").read_text()
    assert "TODO: implement f" in (out / "core.py").read_text()


def test_build_stubs_refuses_solution_files(tmp_path: Path) -> None:
    files = {"__init__.py": "", "mlp_solution.py": "X = 1\n"}
    course = make_course(tmp_path / "course", files=files)
    with pytest.raises(ValueError, match="mlp_solution.py"):
        build_stubs(course, "hw1", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # validated before anything is written


def test_build_stubs_refuses_marker_text_in_other_files(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", files={
        "__init__.py": "", "notes.txt": f"{B}\nsecret\n{E}\n"})
    with pytest.raises(ValueError, match="notes.txt"):
        build_stubs(course, "hw1", tmp_path / "out")


def test_build_stubs_names_the_file_on_bad_markers(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course", files={"bad.py": f"def f():\n    {B}\n    pass\n"})
    with pytest.raises(ValueError, match=r"solutions/hw1/bad\.py:2"):
        build_stubs(course, "hw1", tmp_path / "out")


# --------------------------------------------------------------------------- check_stale


def test_check_stale_clean_then_modified_missing_extra(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    assert check_stale(course, ["hw1"]) == ["assignments/hw1/ is missing (regenerate the stubs)"]
    build_stubs(course, "hw1", course.assignment_dir("hw1"))
    assert check_stale(course, ["hw1"]) == []
    committed = course.assignment_dir("hw1")
    (committed / "core.py").write_text("def f(x):\n    return x + 1\n")
    (committed / "README.md").unlink()
    (committed / "extra.py").write_text("")
    (committed / "__pycache__").mkdir()
    (committed / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\x00")
    stale = check_stale(course, ["hw1"])
    assert len(stale) == 3
    assert any("assignments/hw1/README.md" in s and "missing" in s for s in stale)
    assert any("assignments/hw1/extra.py" in s and "extra" in s for s in stale)
    assert any("assignments/hw1/core.py" in s and "differs" in s for s in stale)


# --------------------------------------------------------------------------- student repo


def test_assemble_student_repo(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    add_engine_and_template(course.root)
    build_stubs(course, "hw1", course.assignment_dir("hw1"))
    out = assemble_student_repo(course, ["hw1"], tmp_path / "student")
    files = rel_files(out)
    assert {"README.md", ".gitignore", "pyproject.toml", ".github/workflows/grade.yml",
            "autograder/__init__.py", "autograder/release.py",
            "assignments/hw1/core.py", "assignments/hw1/data/table.bin",
            "tests/public/hw1/assignment.toml", "tests/public/hw1/test_public.py",
            "tests/public/hw1/snapshots/f.json"} <= files
    assert not any(f.startswith("solutions") or "hidden" in f or "__pycache__" in f
                   for f in files)
    assert "return x + 1" not in (out / "assignments" / "hw1" / "core.py").read_text()


def test_assemble_into_existing_clone_keeps_git(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    add_engine_and_template(course.root)
    build_stubs(course, "hw1", course.assignment_dir("hw1"))
    out = tmp_path / "student"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (out / "assignments" / "old_hw").mkdir(parents=True)
    assemble_student_repo(course, ["hw1"], out)
    assert (out / ".git" / "HEAD").is_file()
    assert not (out / "assignments" / "old_hw").exists()


def test_assemble_refuses_the_course_itself(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    add_engine_and_template(course.root)
    build_stubs(course, "hw1", course.assignment_dir("hw1"))
    with pytest.raises(ValueError, match="course"):
        assemble_student_repo(course, ["hw1"], course.root)
    assert course.hidden_tests("hw1").is_dir()


def test_leak_scan_catches_hidden_tests_and_markers(tmp_path: Path) -> None:
    (tmp_path / "a" / "tests" / "hidden").mkdir(parents=True)
    with pytest.raises(ValueError, match="tests/hidden"):
        scan_for_leaks(tmp_path / "a")
    (tmp_path / "b" / "assignments" / "hw1").mkdir(parents=True)
    (tmp_path / "b" / "assignments" / "hw1" / "core.py").write_text(f"{B}\n")
    with pytest.raises(ValueError, match="marker"):
        scan_for_leaks(tmp_path / "b")
    (tmp_path / "c" / "autograder").mkdir(parents=True)
    (tmp_path / "c" / "autograder" / "release.py").write_text(f"{B}\n")
    scan_for_leaks(tmp_path / "c")  # the engine documents the markers


# --------------------------------------------------------------------------- release


def test_release_writes_records_and_assembles(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    add_engine_and_template(course.root)
    old = course.assignment_dir("hw1")
    old.mkdir(parents=True)
    (old / "obsolete.py").write_text("")
    assert release(course, check=True)  # stale before the first release
    recorded: list[str] = []
    messages = release(course, student_repo=tmp_path / "student",
                       record_snapshots=lambda c, n: recorded.append(n) or [f"{n}: recorded"])
    assert recorded == ["hw1"]
    assert not (old / "obsolete.py").exists() and (old / "core.py").is_file()
    assert any("hw1" in m and "wrote" in m for m in messages)
    assert any("student repository" in m for m in messages)
    assert (tmp_path / "student" / "assignments" / "hw1" / "core.py").is_file()
    assert release(course, check=True) == []


def test_release_check_does_not_write(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    stale = release(course, ["hw1"], check=True)
    assert stale and not course.assignment_dir("hw1").exists()


def test_release_rejects_unknown_assignment(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    with pytest.raises(ValueError, match="nope"):
        release(course, ["nope"])


def test_failed_build_keeps_the_old_stubs(tmp_path: Path) -> None:
    course = make_course(tmp_path / "course")
    release(course)
    (course.solution_dir("hw1") / "core.py").write_text(f"def f(x):\n    {B}\n    return x\n")
    with pytest.raises(ValueError):
        release(course)
    assert (course.assignment_dir("hw1") / "core.py").is_file()
