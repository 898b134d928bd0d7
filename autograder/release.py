"""The release pipeline: reference solutions in, student stubs and a student repository out.

The instructor edits only ``solutions/<name>/``. Solution regions are marked nbgrader-style with
two whole-line comments, at any indentation::

    def softmax(x):
        \"\"\"Row-wise softmax of a 2-D tensor.\"\"\"
        # BEGIN SOLUTION: subtract the row maximum first
        z = x - x.max(dim=1, keepdim=True).values
        return z.exp() / z.exp().sum(dim=1, keepdim=True)
        # END SOLUTION

and :func:`strip_solutions` turns every region into one line at the marker's indentation::

        raise NotImplementedError("TODO: subtract the row maximum first")

(without a hint the message is ``TODO: implement softmax``, the qualified name of the enclosing
function or method). The markers are matched exactly and case-sensitively; anything that looks
like a marker but is not exactly one (``#BEGIN SOLUTION``, ``# begin solution``,
``# END SOLUTIONS``, ``# BEGIN SOLUTION hint`` without the colon, a marker after code on the same
line) is an error rather than silently left in place, so a typo cannot leak a solution. The check
is textual, so marker-like text inside a string of a solution file is refused too.

The pipeline is a chain of small steps, each usable alone:

1. :func:`strip_solutions` - one source file.
2. :func:`build_stubs` - ``solutions/<name>/`` to a stub package (non-Python files copied).
3. :func:`check_stale` - are the committed ``assignments/<name>/`` trees up to date?
4. :func:`assemble_student_repo` - ``student_template/`` + stubs + public tests + the engine.
5. :func:`release` - all of the above for a list of assignments, with an optional
   snapshot-recording step between 2 and 4.
"""

from __future__ import annotations

import fnmatch
import io
import re
import shutil
import tempfile
import tokenize
from collections.abc import Callable, Iterable
from pathlib import Path

from autograder.grading.config import Course

BEGIN_MARKER = "# BEGIN SOLUTION"
END_MARKER = "# END SOLUTION"

_BEGIN_RE = re.compile(r"^(?P<indent>[ \t]*)# BEGIN SOLUTION(?::(?P<hint>.*))?[ \t]*$")
_END_RE = re.compile(r"^[ \t]*# END SOLUTION[ \t]*$")
# Anything resembling a marker; checked only on lines that are not exact markers.
_NEAR_MISS_RE = re.compile(r"#[#\s]*(?:begin|end)[\s_-]*solution", re.IGNORECASE)
_DEF_RE = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)|^class[ \t]+(\w+)")

SOLUTION_FILE_PATTERN = "*_solution*"
"""A ``.py`` file under ``solutions/`` named like this is refused: it would ship whole."""

_SKIP_DIRS = frozenset({"__pycache__", "figures"})
_SKIP_SUFFIXES = frozenset({".pyc", ".pyo"})
TEMPLATE_DIR = "student_template"


# --------------------------------------------------------------------------- step 1: one file


def _split_lines(source: str) -> list[str]:
    """Lines with their own endings (``\\n``, ``\\r\\n`` or ``\\r``), as Python counts them."""
    return io.StringIO(source, newline="").readlines()


def _indent_width(line: str) -> int:
    """Width of the leading whitespace, tabs expanded to 8 columns like the tokenizer does."""
    stripped = line.lstrip(" \t")
    return len(line[: len(line) - len(stripped)].expandtabs(8))


def _statement_starts(source: str) -> set[int] | None:
    """1-based numbers of the lines that begin a logical line, or None if untokenizable.

    Used so that a ``def`` inside a docstring or a continuation line is never taken for an
    enclosing definition.
    """
    starts: set[int] = set()
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    expect_start = True
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.NEWLINE:
                expect_start = True
            elif tok.type not in skip and expect_start:
                starts.add(tok.start[0])
                expect_start = False
    except (tokenize.TokenError, SyntaxError):
        return None
    return starts


def _enclosing_name(lines: list[str], index: int, starts: set[int] | None) -> str | None:
    """Dotted name of the defs/classes enclosing ``lines[index]``, found by indentation."""
    level = _indent_width(lines[index])
    names: list[str] = []
    for i in range(index - 1, -1, -1):
        if level == 0:
            break
        text = lines[i].strip()
        if not text or text.startswith("#") or (starts is not None and i + 1 not in starts):
            continue
        width = _indent_width(lines[i])
        if width >= level:
            continue
        level = width
        match = _DEF_RE.match(text)
        if match:
            names.append(match.group(1) or match.group(2))
    return ".".join(reversed(names)) or None


def _todo_line(indent: str, message: str, newline: str = "\n") -> str:
    """``raise NotImplementedError("<message>")`` as a source line ending in ``newline``."""
    literal = '"' + message.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{indent}raise NotImplementedError({literal}){newline}"


def _check_near_miss(line: str, filename: str, lineno: int) -> None:
    """Refuse a line that resembles a marker without being one."""
    if _NEAR_MISS_RE.search(line):
        raise ValueError(
            f"{filename}:{lineno}: looks like a solution marker but is not exactly "
            f"{BEGIN_MARKER!r}[': hint'] or {END_MARKER!r} on a line of its own: "
            f"{line.strip()!r}")


def _replace_regions(lines: list[str], filename: str, starts: set[int] | None) -> list[str]:
    """Walk the lines, replacing each outermost region by its ``raise`` line."""
    out: list[str] = []
    open_at: list[int] = []  # line numbers of the currently open BEGIN markers
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        begin, end = _BEGIN_RE.match(body), _END_RE.match(body)
        if not (begin or end):
            _check_near_miss(body, filename, i + 1)
            if not open_at:
                out.append(line)
            continue
        if begin:
            if not open_at:
                hint = (begin.group("hint") or "").strip()
                if not hint:
                    hint = f"implement {_enclosing_name(lines, i, starts) or 'this part'}"
                newline = line[len(body):] or "\n"
                out.append(_todo_line(begin.group("indent"), f"TODO: {hint}", newline))
            open_at.append(i + 1)
            continue
        if not open_at:
            raise ValueError(f"{filename}:{i + 1}: {END_MARKER!r} without a matching "
                             f"{BEGIN_MARKER!r}")
        open_at.pop()
    if open_at:
        where = ", ".join(str(n) for n in open_at)
        raise ValueError(f"{filename}:{open_at[0]}: {BEGIN_MARKER!r} without a matching "
                         f"{END_MARKER!r} (unclosed at line(s) {where})")
    return out


def _check_compiles(stripped: str, original: str, filename: str) -> None:
    """Raise ValueError naming ``filename`` when the stub is not valid Python."""
    try:
        compile(stripped, filename, "exec", dont_inherit=True)
    except SyntaxError as err:
        try:
            compile(original, filename, "exec", dont_inherit=True)
            what, advice = "the stub generated from it", "; check the markers' indentation"
        except SyntaxError:
            what, advice = "the solution source itself", ""
        raise ValueError(f"{filename}: {what} does not compile: {err.msg} "
                         f"(line {err.lineno}){advice}") from err


def strip_solutions(source: str, filename: str = "<source>") -> str:
    """Replace every solution region of ``source`` by a ``raise NotImplementedError`` line.

    A region runs from a line that is exactly ``# BEGIN SOLUTION`` (optionally followed by
    ``: <hint>``) to a line that is exactly ``# END SOLUTION``, both at any indentation. It
    becomes one line ``raise NotImplementedError("TODO: <hint>")`` at the BEGIN line's
    indentation; without a hint the message is ``TODO: implement <Class.method>`` (or
    ``TODO: implement this part`` at module level). Regions nested inside a region go with the
    outermost one. Every other line, with its line ending, is kept byte for byte.

    Raises ValueError (naming ``filename`` and the line) for an END without a BEGIN, a BEGIN
    without an END, a near-miss marker, or a result that does not compile.
    """
    bom = "\ufeff" if source.startswith("\ufeff") else ""
    source = source[len(bom):]
    lines = _split_lines(source)
    stripped = "".join(_replace_regions(lines, filename, _statement_starts(source)))
    _check_compiles(stripped, source, filename)
    return bom + stripped


# --------------------------------------------------------------------------- step 2: stubs


def _is_shipped(rel: Path) -> bool:
    """False for caches, byte code, hidden files and ``figures/`` output folders."""
    if rel.suffix in _SKIP_SUFFIXES:
        return False
    return not any(p.startswith(".") or p in _SKIP_DIRS or p.endswith(".egg-info")
                   for p in rel.parts)


def _tree_files(root: Path, keep: Callable[[Path], bool] = _is_shipped) -> list[Path]:
    """Relative paths of the regular files under ``root`` that ``keep`` accepts, sorted."""
    if not root.is_dir():
        return []
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and keep(p.relative_to(root)))


def _contains_marker(data: bytes) -> bool:
    """Whether ``data`` holds anything resembling a solution marker."""
    return bool(_NEAR_MISS_RE.search(data.decode("utf-8", errors="ignore")))


def _stub_contents(course: Course, name: str) -> dict[Path, bytes]:
    """Relative path -> bytes of the stub package, validated but not yet written."""
    src = course.solution_dir(name)
    if not src.is_dir():
        raise ValueError(f"no reference solution for {name!r}: {src} is not a directory")
    contents: dict[Path, bytes] = {}
    for rel in _tree_files(src):
        shown = f"solutions/{name}/{rel.as_posix()}"
        if rel.suffix == ".py":
            if fnmatch.fnmatch(rel.name, SOLUTION_FILE_PATTERN):
                raise ValueError(f"{shown}: a file named {SOLUTION_FILE_PATTERN!r} would ship "
                                 "a whole solution; mark regions in the module instead")
            text = (src / rel).read_bytes().decode("utf-8")
            data = strip_solutions(text, shown).encode("utf-8")
        else:
            data = (src / rel).read_bytes()
        if _contains_marker(data):
            raise ValueError(f"{shown}: solution marker text left after stripping (only .py "
                             "files are stripped, and only whole-line markers)")
        contents[rel] = data
    return contents


def _write_tree(contents: dict[Path, bytes], out_dir: Path) -> list[Path]:
    """Write ``contents`` below ``out_dir``; return the written paths."""
    written = []
    for rel, data in sorted(contents.items()):
        dest = out_dir / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        written.append(dest)
    return written


def build_stubs(course: Course, name: str, out_dir: Path) -> list[Path]:
    """Write the stub package of ``name`` (from ``solutions/<name>/``) into ``out_dir``.

    Every ``.py`` file is passed through :func:`strip_solutions`; every other file (the
    handout README, data files) is copied byte for byte. ``__pycache__``, ``*.pyc``, hidden
    files and ``figures/`` folders are skipped. Everything is validated before anything is
    written: a ``*_solution*.py`` file, or marker text in any output file, raises ValueError.
    Returns the written paths, sorted.
    """
    return _write_tree(_stub_contents(course, name), Path(out_dir))


# --------------------------------------------------------------------------- step 3: staleness


def _compare_trees(expected: Path, actual: Path, label: str) -> list[str]:
    """Human-readable differences between the generated ``expected`` and committed ``actual``."""
    if not actual.is_dir():
        return [f"{label}/ is missing (regenerate the stubs)"]
    want, have = set(_tree_files(expected)), set(_tree_files(actual))
    diffs = [f"{label}/{rel.as_posix()}: missing (regenerate the stubs)"
             for rel in sorted(want - have)]
    diffs += [f"{label}/{rel.as_posix()}: extra file, not generated from solutions/"
              for rel in sorted(have - want)]
    diffs += [f"{label}/{rel.as_posix()}: differs from the stub generated from solutions/"
              for rel in sorted(want & have)
              if (expected / rel).read_bytes() != (actual / rel).read_bytes()]
    return diffs


def check_stale(course: Course, names: list[str]) -> list[str]:
    """Differences between freshly generated stubs and the committed ``assignments/<name>/``.

    Nothing in the course is written. An empty list means every tree is up to date.
    """
    diffs: list[str] = []
    with tempfile.TemporaryDirectory(prefix="llmsoc-stale-") as tmp:
        for name in names:
            fresh = Path(tmp) / name
            build_stubs(course, name, fresh)
            diffs += _compare_trees(fresh, course.assignment_dir(name), f"assignments/{name}")
    return diffs


# --------------------------------------------------------------------------- step 4: student repo


def _copy_tree(src: Path, dest: Path, keep: Callable[[Path], bool] = _is_shipped) -> int:
    """Copy the files of ``src`` that ``keep`` accepts into ``dest``; return how many."""
    files = _tree_files(src, keep)
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src / rel, dest / rel)
    return len(files)


def _not_cache(rel: Path) -> bool:
    """Template filter: keep hidden files (``.gitignore``, ``.github/``), drop caches."""
    return rel.suffix not in _SKIP_SUFFIXES and "__pycache__" not in rel.parts


def _prepare_output(course: Course, out: Path) -> None:
    """Make ``out`` ready: refuse a course checkout, clear what a previous release wrote.

    Only the paths this step owns are removed (``assignments/``, ``tests/``, ``autograder/``
    and the template's top-level entries); ``.git`` and any other file are left alone.
    """
    root = course.root.resolve()
    if out == root or out in root.parents:
        raise ValueError(f"refusing to assemble the student repository into {out}: "
                         "it contains the course itself")
    if (out / "solutions").exists() or (out / "tests" / "hidden").exists():
        raise ValueError(f"refusing to assemble into {out}: it looks like a course checkout")
    template = course.root / TEMPLATE_DIR
    owned = {"assignments", "tests", "autograder"}
    owned |= {p.name for p in template.iterdir()} if template.is_dir() else set()
    for entry in sorted(owned - {".git"}):
        path = out / entry
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _copy_public_tests(course: Course, name: str, out: Path) -> None:
    """``tests/public/<name>/`` plus the shared files directly in ``tests/public/``."""
    public = course.root / "tests" / "public"
    for shared in sorted(public.glob("*")):
        if shared.is_file() and _is_shipped(Path(shared.name)):
            (out / "tests" / "public").mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shared, out / "tests" / "public" / shared.name)
    _copy_tree(course.public_tests(name), out / "tests" / "public" / name)


def _is_hidden_tests(rel: Path) -> bool:
    """Whether ``rel`` lies in (or is) a ``tests/hidden`` folder."""
    parts = rel.parts
    return any(parts[i:i + 2] == ("tests", "hidden") for i in range(len(parts) - 1))


def scan_for_leaks(out: Path) -> None:
    """Raise ValueError if ``out`` holds solutions, hidden tests or solution marker text.

    The engine's own sources (``autograder/``) document the markers and are exempt from the
    text scan, not from the path checks. ``.git`` is ignored.
    """
    for path in sorted(out.rglob("*")):
        rel = path.relative_to(out)
        if rel.parts[0] == ".git":
            continue
        posix = rel.as_posix()
        if rel.parts[0] == "solutions" or _is_hidden_tests(rel):
            raise ValueError(f"leak check: {posix} must never be shipped to students")
        if path.is_file() and rel.parts[0] != "autograder" and _contains_marker(path.read_bytes()):
            raise ValueError(f"leak check: {posix} contains solution marker text")


def assemble_student_repo(course: Course, names: list[str], out: Path,
                          extra: Iterable[str] = ()) -> Path:
    """Build a ready-to-push student repository at ``out`` and return it.

    It holds the files of ``student_template/``, the generated stubs ``assignments/<name>/``,
    the public tests ``tests/public/<name>/`` (with ``assignment.toml`` and snapshots) and a
    copy of the engine package ``autograder/``; ``extra`` names further course paths to ship
    verbatim (a support package, say). ``solutions/`` and ``tests/hidden/`` are never copied,
    and :func:`scan_for_leaks` checks the result. An existing ``out`` (a clone of the student
    repository, say) keeps its ``.git`` and unrelated files.
    """
    out = Path(out).resolve()
    for name in names:
        if not course.assignment_dir(name).is_dir():
            raise ValueError(f"assignments/{name}/ does not exist; build the stubs first")
    _prepare_output(course, out)
    _copy_tree(course.root / TEMPLATE_DIR, out, _not_cache)
    for name in names:
        _copy_tree(course.assignment_dir(name), out / "assignments" / name)
        _copy_public_tests(course, name, out)
    _copy_tree(course.root / "autograder", out / "autograder")
    for rel in extra:
        src = course.root / rel
        if src.is_dir():
            _copy_tree(src, out / rel)
        else:
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out / rel)
    scan_for_leaks(out)
    return out


# --------------------------------------------------------------------------- step 5: pipeline


def _replace_tree(course: Course, name: str) -> list[Path]:
    """Regenerate ``assignments/<name>/``: build beside it, then swap the old tree out."""
    target = course.assignment_dir(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=target.parent) as tmp:
        fresh = Path(tmp) / name
        build_stubs(course, name, fresh)  # raises before the old tree is touched
        if target.exists():
            shutil.rmtree(target)
        fresh.rename(target)
    return _tree_files(target)


def release(course: Course, names: list[str] | None = None, *, check: bool = False,
            student_repo: Path | None = None,
            record_snapshots: Callable[[Course, str], list[str]] | None = None) -> list[str]:
    """Regenerate the stubs of ``names`` (default: every assignment) and report what was done.

    With ``check=True`` nothing is written: the result lists the stale differences (empty when
    the committed stubs are up to date). Otherwise each ``assignments/<name>/`` is replaced by
    freshly built stubs, ``record_snapshots(course, name)`` is called when given, and finally
    the student repository is assembled at ``student_repo`` when given.
    """
    known = course.assignments()
    names = list(known if names is None else names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown assignment(s) {unknown}; known: {', '.join(known) or 'none'}")
    if check:
        return check_stale(course, names)
    messages: list[str] = []
    for name in names:
        files = _replace_tree(course, name)
        messages.append(f"{name}: wrote {len(files)} files to assignments/{name}/")
        if record_snapshots is not None:
            messages += record_snapshots(course, name)
    if student_repo is not None:
        out = assemble_student_repo(course, names, student_repo)
        messages.append(f"student repository assembled at {out} ({', '.join(names)})")
    return messages
