"""The integrity of a grade against a determined student, graded through the real runner.

Each test is an attack (or a broken host) the engine before the intake and the bubblewrap root
did not withstand, or did not notice:

* links anywhere on the path to or inside the package refuse it (they used to be followed, or
  silently skipped), and so do packages with too many bytes, files or folders, too deep, with
  long or odd names, FIFOs or sparse files; nothing is copied anywhere;
* the worker sees an allow-listed root: no ``/home``, ``/tmp``, ``/run``, of ``/root`` and
  ``/work`` only the way to the interpreter and the engine's worker-side code, no course
  checkout, no secret, no unix socket of the host, no package data sets, and it is not root;
* an official grade is refused (exit code 4) without the sandbox or without a course secret;
* a grader killed in the middle of a test leaves no process, file or mount behind;
* per-test budgets count the worker's CPU time: a worker starved of CPU is not timed out, one
  that sleeps is stopped by the stall rule, one that spins by its CPU budget.

Tests that need the sandbox are skipped, with the probe's reason, on a host without one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from autograder import cli
from autograder.grading.runner import OfficialGradingUnavailable
from autograder.results import formats
from autograder.sandbox import host, process, root

ENGINE_ROOT = Path(__file__).resolve().parents[2]
CAPS = host.probe()
needs_sandbox = pytest.mark.skipif(
    not CAPS.isolated, reason="no sandbox on this host: " + "; ".join(CAPS.problems))

VALID = """
    def add(a, b):
        return a + b
    """

TESTS = """
    import pytest


    @pytest.mark.points(2)
    @pytest.mark.category("value")
    def test_{visibility}_add(submission):
        assert submission.add(2, 3) == 5
    """
HIDDEN, PUBLIC = TESTS.format(visibility="hidden"), TESTS.format(visibility="public")


def llmsoc_in_tmp() -> set[str]:
    """The engine's entries in /tmp (a sandbox scratch folder would be ``llmsoc-sandbox-*``)."""
    return {name for name in os.listdir("/tmp") if name.startswith("llmsoc-")}


def mounts() -> set[str]:
    """This process's mount table, mount ids left out."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return {line.split(" ", 2)[2] for line in lines}


def write_package(folder: Path, source: str = VALID) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "__init__.py").write_text(textwrap.dedent(source).lstrip("\n"))
    return folder


def assert_refused(graded, *needles: str) -> None:
    """Every test (hidden ones too) and the static check were refused, saying ``needles``; no
    worker was ever started."""
    tests = graded.report.assignments[0].tests
    assert {t.name for t in tests} == {"test_public_add", "test_hidden_add",
                                       "from-scratch rule (static check)"}
    for t in tests:
        assert (t.status, t.failure_class, t.earned) == ("failed", "refused", 0), t
        assert "the submission was refused" in t.feedback
        for needle in needles:
            assert needle in t.feedback, (needle, t.feedback)
    env = graded.report.environment
    assert env["submission_hash"] == {"demo": "refused"}
    assert env["sandbox"] == {}  # no worker: nothing of the package went anywhere


# ----------------------------------------------------------------------------- links

def _repository_link(course: Path, tmp: Path) -> tuple[Path, str]:
    write_package(tmp / "repo" / "assignments" / "demo")
    (tmp / "repo-link").symlink_to(tmp / "repo")
    return tmp / "repo-link", "the submission path repo-link is a symbolic link"


def _package_link(course: Path, tmp: Path) -> tuple[Path, str]:
    elsewhere = write_package(tmp / "elsewhere" / "demo")
    (tmp / "repo" / "assignments").mkdir(parents=True)
    (tmp / "repo" / "assignments" / "demo").symlink_to(elsewhere)
    return tmp / "repo", "assignments/demo is a symbolic link"


def _assignments_link(course: Path, tmp: Path) -> tuple[Path, str]:
    write_package(tmp / "elsewhere" / "demo")
    (tmp / "repo").mkdir()
    (tmp / "repo" / "assignments").symlink_to(tmp / "elsewhere")
    return tmp / "repo", "assignments is a symbolic link"


def _file_link(course: Path, tmp: Path) -> tuple[Path, str]:
    package = write_package(tmp / "repo" / "assignments" / "demo")
    (package / "helpers.py").symlink_to(course / "tests" / "hidden" / "demo" / "test_x.py")
    return tmp / "repo", "demo/helpers.py is a symbolic link"


def _folder_link(course: Path, tmp: Path) -> tuple[Path, str]:
    package = write_package(tmp / "repo" / "assignments" / "demo")
    (package / "data").symlink_to(course / "solutions")
    return tmp / "repo", "demo/data is a symbolic link"


def _environ_link(course: Path, tmp: Path) -> tuple[Path, str]:
    package = write_package(tmp / "repo" / "assignments" / "demo")
    (package / "environ.txt").symlink_to("/proc/self/environ")
    return tmp / "repo", "demo/environ.txt is a symbolic link"


def _dangling_link(course: Path, tmp: Path) -> tuple[Path, str]:
    package = write_package(tmp / "repo" / "assignments" / "demo")
    (package / "gone.py").symlink_to(tmp / "does-not-exist.py")
    return tmp / "repo", "demo/gone.py is a symbolic link"


LINKS = {"repository": _repository_link, "package-folder": _package_link,
         "assignments-folder": _assignments_link, "file": _file_link,
         "sub-folder": _folder_link, "proc-self-environ": _environ_link,
         "dangling": _dangling_link}


@pytest.mark.parametrize("where", list(LINKS))
def test_a_link_anywhere_refuses_the_submission(make_course, grade, tmp_path, where) -> None:
    """A symbolic link at any level (the repository, assignments/, the package, a file or a
    folder inside, one to /proc/self/environ) refuses every test, names the link, copies
    nothing and grades nothing."""
    course = make_course(VALID, HIDDEN, public=PUBLIC)
    submission, needle = LINKS[where](course, tmp_path)
    before = llmsoc_in_tmp()
    graded = grade(course, submission=submission)
    assert_refused(graded, needle)
    assert llmsoc_in_tmp() <= before


# ----------------------------------------------------------------------------- bounds

def _deep_beyond_path_max(package: Path) -> str:
    """45 folders of 95-character names (a path of over 4300 characters), made through folder
    descriptors: no path that long can be passed to a system call."""
    fd = os.open(package, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for i in range(45):
            name = f"{i:02d}" + "d" * 93
            os.mkdir(name, dir_fd=fd)
            child = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = child
        leaf = os.open("deep.py", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"x = 1\n")
        os.close(leaf)
    finally:
        os.close(fd)
    assert 45 * 96 > 4096  # PATH_MAX
    return "nested deeper than 8 folders"


def _too_large(package: Path) -> str:
    (package / "weights.bin").write_bytes(b"\1" * 150_000)
    return "larger than 100000 bytes (at demo/weights.bin)"


def _too_many_files(package: Path) -> str:
    for i in range(8):
        (package / f"part{i}.py").write_text("x = 1\n")
    return "more than 5 files"


def _too_many_folders(package: Path) -> str:
    for i in range(8):  # empty: no file counts, but each would be arguments of bwrap's
        (package / f"d{i}").mkdir()
    return "more than 5 folders"


def _too_deep(package: Path) -> str:
    write_package(package / "a" / "b" / "c")
    return "demo/a/b/c/ is nested deeper than 3 folders"


def _long_name(package: Path) -> str:
    (package / ("n" * 150 + ".py")).write_text("x = 1\n")
    return "names must be printable and at most 100 characters"


def _unprintable_name(package: Path) -> str:
    (package / "evil\nname.py").write_text("x = 1\n")
    return "names must be printable"


def _fifo(package: Path) -> str:
    os.mkfifo(package / "pipe")
    return "demo/pipe is not a regular file or folder"


BOUNDS = {  # kind -> ([intake] settings, how to break them, returning what the refusal says)
    "too-large": ("max_bytes = 100000", _too_large),
    "too-many-files": ("max_files = 5", _too_many_files),
    "too-many-folders": ("max_files = 5", _too_many_folders),
    "too-deep": ("max_depth = 3", _too_deep),
    "long-name": ("", _long_name),
    "unprintable-name": ("", _unprintable_name),
    "beyond-path-max": ("", _deep_beyond_path_max),
    "fifo": ("", _fifo),
}


@pytest.mark.parametrize("kind", list(BOUNDS))
def test_a_package_out_of_bounds_is_refused(make_course, grade, kind) -> None:
    """Too many bytes, files or folders, too deep (also beyond PATH_MAX), a long or unprintable
    name, a FIFO (which a copy would block on): refused at once with a report, nothing left in
    /tmp."""
    settings, breach = BOUNDS[kind]
    course = make_course(VALID, HIDDEN, public=PUBLIC,
                         config=f"[intake]\n{settings}\n" if settings else "")
    package = course / "assignments" / "demo"
    needle = breach(package)
    before = llmsoc_in_tmp()
    try:
        graded = grade(course)
    finally:
        if kind == "beyond-path-max":  # rmtree works through descriptors too
            shutil.rmtree(package / ("00" + "d" * 93))
    assert_refused(graded, needle)
    assert graded.seconds < 30
    assert llmsoc_in_tmp() <= before


def test_a_package_at_the_bounds_is_graded(make_course, grade) -> None:
    """Within every bound, at its edge: 8 folders deep with names of 100 characters (a path of
    about 800, longer than a memfd's name may be) and a file in the deepest one; graded as
    usual, the deep module imported by the package."""
    names = [f"p{i}" + "p" * 98 for i in range(7)]
    course = make_course(f"from .{'.'.join(names)}.deep import add\n", HIDDEN, public=PUBLIC)
    folder = course / "assignments" / "demo"
    for name in names:
        folder = folder / name
        folder.mkdir()
        (folder / "__init__.py").write_text("")
    (folder / "deep.py").write_text("def add(a, b):\n    return a + b\n")
    graded = grade(course)
    assert {t.status for t in graded.tests.values()} == {"passed"}, graded.report.to_dict()


def _fs_reports_holes(folder: Path) -> bool:
    probe = folder / "hole-probe"
    with open(probe, "wb") as f:
        f.truncate(1 << 20)
        f.write(b"x")
    fd = os.open(probe, os.O_RDONLY)
    try:
        return os.lseek(fd, 0, os.SEEK_HOLE) < os.fstat(fd).st_size
    except OSError:
        return False
    finally:
        os.close(fd)
        probe.unlink()


def test_a_2_gib_sparse_file_is_refused_unread(make_course, grade) -> None:
    """A 2 GiB file that takes no disk space (``truncate``) is refused in seconds by its size;
    it is never read, let alone copied."""
    course = make_course(VALID, HIDDEN, public=PUBLIC)
    with open(course / "assignments" / "demo" / "weights.bin", "wb") as f:
        f.truncate(2 << 30)
    before = llmsoc_in_tmp()
    graded = grade(course)
    assert_refused(graded, "larger than 16 MiB (at demo/weights.bin)")
    assert graded.seconds < 5
    assert llmsoc_in_tmp() <= before


def test_a_sparse_file_within_the_size_limit_is_refused(make_course, grade) -> None:
    """A sparse file small enough to pass the size limit is refused for its hole."""
    course = make_course(VALID, HIDDEN, public=PUBLIC)
    package = course / "assignments" / "demo"
    if not _fs_reports_holes(package):
        pytest.skip("this file system does not report holes (SEEK_HOLE)")
    with open(package / "weights.bin", "wb") as f:
        f.truncate(4 << 20)
        f.write(b"end")
    graded = grade(course)
    assert_refused(graded, "demo/weights.bin is a sparse file")
    assert graded.seconds < 5


# ----------------------------------------------------------------------------- looking around

LOOK = """
    import os
    import socket

    FOLDERS = {folders!r}
    FILES = {files!r}
    UNIX_SOCKETS = {sockets!r}


    def add(a, b):
        return a + b


    def _read(path):
        try:
            if os.path.isdir(path):
                return sorted(os.listdir(path))
            with open(path, "rb") as f:
                return f.read(300).decode(errors="replace")
        except OSError as exc:
            return "!" + type(exc).__name__


    def look():
        seen = {{"folders": {{p: _read(p) for p in FOLDERS}},
                "files": {{p: _read(p) for p in FILES}}, "sockets": {{}}, "data": {{}}}}
        for address in UNIX_SOCKETS:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(address)
                seen["sockets"][repr(address)] = "connected"
            except OSError as exc:
                seen["sockets"][repr(address)] = "!" + type(exc).__name__
            finally:
                s.close()
        try:
            from gensim.test.utils import datapath

            seen["data"]["gensim"] = _read(datapath("lee_background.cor"))
        except Exception as exc:
            seen["data"]["gensim"] = "!" + type(exc).__name__
        try:
            from sklearn.datasets import load_iris

            seen["data"]["sklearn"] = repr(load_iris()["data"][:1])
        except Exception as exc:
            seen["data"]["sklearn"] = "!" + type(exc).__name__
        environs = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                environs.append(_read(f"/proc/{{pid}}/environ"))
                seen.setdefault("cmdlines", []).append(_read(f"/proc/{{pid}}/cmdline"))
        seen["environs"] = environs
        seen["ids"] = [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()]
        try:
            os.setuid(0)
            seen["setuid0"] = "done"
        except OSError as exc:
            seen["setuid0"] = "!" + type(exc).__name__
        return seen
    """

LOOK_TEST = """
    import json
    import os
    from pathlib import Path

    import pytest


    @pytest.mark.points(1)
    @pytest.mark.category("invariant")
    @pytest.mark.timeout(60)
    def test_look(submission):
        Path(os.environ["LLMSOC_TEST_LOOK"]).write_text(json.dumps(submission.look()))
    """


def _allow_list() -> list[str]:
    """What the worker's root holds (sandbox.root): the system and interpreter folders, the
    engine's worker-side code, its own /proc, /dev, /scratch and /submission."""
    return ([path for _, path in root.system_paths()] + [str(p) for p in root.interpreter_paths()]
            + [str(ENGINE_ROOT / "autograder" / part) for part in root.ENGINE_PARTS]
            + ["/etc/ld.so.cache", "/etc/passwd", "/etc/group", "/sys/devices/system/cpu",
               "/proc", "/dev", root.SCRATCH, root.SUBMISSION_ROOT])


def _beyond_the_allow_list(folder: str, names: list[str]) -> list[str]:
    """The entries of ``folder`` that are neither allow-listed nor on the way to something
    allow-listed."""
    allowed = _allow_list()
    if any(folder == a or folder.startswith(a + "/") for a in allowed):
        return []
    prefix = folder.rstrip("/") + "/"
    steps = {a[len(prefix):].split("/")[0] for a in allowed if a.startswith(prefix)}
    return [n for n in names if n not in steps]


@pytest.fixture
def root_only_visible():
    """A 0600 root-owned file inside a folder the worker's root does bind (the virtual
    environment): visible to the worker, readable only by root."""
    path = Path(sys.prefix) / f".llmsoc-test-root-only-{os.getpid()}"
    path.write_text("ROOT-ONLY-MARKER\n")
    os.chmod(path, 0o600)
    yield path
    path.unlink()


@needs_sandbox
def test_the_worker_sees_nothing_of_the_host(make_course, grade, tmp_path, monkeypatch,
                                             course_secret, root_only_visible) -> None:
    """From inside student code: no /home, /tmp or /run, only the allow-listed skeleton of /,
    /root and /work, no course checkout (hidden tests, solutions, secret, the trusted engine), no
    other checkout, no root-only file, no unix socket of the host, no package data sets, no
    other process's environment, and the worker is not root."""
    course = make_course(VALID, LOOK_TEST, forbidden=())
    other = make_course(VALID, HIDDEN)  # another checkout of the course, on the same machine
    (other / "solutions" / "demo" / "__init__.py").write_text("SOLUTION-MARKER = 1\n")
    root_only_hidden = tmp_path / "root-only.txt"
    root_only_hidden.write_text("ROOT-ONLY-MARKER\n")
    os.chmod(root_only_hidden, 0o600)
    folders = ["/", "/root", "/home", "/tmp", "/run", "/work", str(ENGINE_ROOT),
               str(ENGINE_ROOT / "autograder"), str(course), str(other)]
    hidden_files = [course / "tests" / "hidden" / "demo" / "test_x.py",
                    course / "solutions" / "demo" / "__init__.py",
                    other / "solutions" / "demo" / "__init__.py",
                    ENGINE_ROOT / "solutions" / "w2_pytorch_basics" / "__init__.py",
                    ENGINE_ROOT / "tests" / "hidden" / "w2_pytorch_basics",
                    ENGINE_ROOT / ".llmsoc" / "secret",
                    ENGINE_ROOT / "autograder" / "grading" / "runner.py",
                    root_only_hidden]
    files = [str(p) for p in hidden_files if p.exists()] + [str(root_only_visible)]
    assert len(files) >= 7  # the control: the grader sees them
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock_path = tmp_path / "grader.sock"
    listener.bind(str(sock_path))
    abstract.bind(f"\0llmsoc-test-{os.getpid()}")
    for s in (listener, abstract):
        s.listen(8)
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(s.getsockname())  # the control: reachable from the grader
    source = LOOK.format(folders=folders, files=files,
                         sockets=[str(sock_path), f"\0llmsoc-test-{os.getpid()}"])
    (course / "assignments" / "demo" / "__init__.py").write_text(textwrap.dedent(source))
    out = tmp_path / "look.json"
    monkeypatch.setenv("LLMSOC_TEST_LOOK", str(out))
    try:
        graded = grade(course)
    finally:
        listener.close()
        abstract.close()
    assert graded["test_look"].status == "passed", graded["test_look"].feedback
    seen = json.loads(out.read_text())

    on_the_way = {p for a in _allow_list() for p in map(str, Path(a).parents)}
    for hidden in ("/home", "/tmp", "/run", "/work", str(course), str(other)):
        if hidden not in on_the_way:  # (a checkout under /tmp or /work has its path there)
            assert seen["folders"][hidden] == "!FileNotFoundError", hidden
    beyond = {f: _beyond_the_allow_list(f, names) for f, names in seen["folders"].items()
              if isinstance(names, list)}
    assert beyond == {f: [] for f in beyond}  # e.g. of the checkout's parent, only its path
    assert set(seen["folders"][str(ENGINE_ROOT / "autograder")]) == set(root.ENGINE_PARTS)

    read = {f: v for f, v in seen["files"].items() if not v.startswith("!")}
    assert read == {}
    if CAPS.root:  # the worker's own uid: a root-only file it can see stays unreadable
        assert seen["files"][str(root_only_visible)] == "!PermissionError"
    assert seen["sockets"] == {repr(str(sock_path)): "!FileNotFoundError",
                               repr(f"\0llmsoc-test-{os.getpid()}"): "!ConnectionRefusedError"}
    assert os.path.isfile(_gensim_datapath())  # the control: the grader can read it
    assert seen["data"]["gensim"] == "!FileNotFoundError"
    assert seen["data"]["sklearn"] == "!FileNotFoundError"
    assert all(course_secret not in e for e in seen["environs"])
    assert not any("pytest" in c for c in seen["cmdlines"])  # the grader is out of sight
    uid, euid, gid, egid, groups = seen["ids"]
    assert 0 not in (uid, euid, gid, egid) and groups == []
    assert seen["setuid0"] == "!PermissionError"
    if CAPS.root:
        assert process.UID_BASE <= uid < process.UID_BASE + process.UID_RANGE


def _gensim_datapath() -> str:
    from gensim.test.utils import datapath

    return datapath("lee_background.cor")


# ----------------------------------------------------------------------------- fail closed

@pytest.fixture(params=["missing", "without-namespaces"])
def no_sandbox(request, monkeypatch, tmp_path):
    """A host where bubblewrap is not installed, or cannot make namespaces (a stand-in that
    fails the way bwrap does where user namespaces are off); the probe's cache is restored."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if request.param == "without-namespaces":
        fake = bin_dir / "bwrap"
        fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                        "exit 1\n")
        fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))
    host.probe.cache_clear()
    try:
        yield request.param
    finally:
        monkeypatch.undo()
        host.probe.cache_clear()


def test_no_official_grade_without_the_sandbox(make_course, grade, no_sandbox, tmp_path,
                                               capsys, forget_course_modules) -> None:
    """Without bubblewrap (or its namespaces) ``run(official=True)`` raises and ``llmsoc grade``
    exits 4 naming bubblewrap; ``--unofficial`` still grades, and says so."""
    caps = host.probe()
    assert caps.mode == "unconfined" and not caps.isolated
    course = make_course(VALID, HIDDEN)
    with pytest.raises(OfficialGradingUnavailable, match="bubblewrap"):
        grade(course, official=True)
    args = ["grade", "demo", "--course", str(course), "--submission", str(course)]
    capsys.readouterr()
    assert cli.main(args) == cli.EXIT_NOT_OFFICIAL
    err = capsys.readouterr().err
    assert "bubblewrap" in err and "--unofficial" in err
    if no_sandbox == "without-namespaces":
        assert "No permissions to create new namespace" in err
        return  # grading unofficially is the same as below
    report = _grade_unofficially(args, tmp_path / "report.json", forget_course_modules)
    assert report["environment"]["mode"] == "sandboxed: unconfined"
    assert [(t["name"], t["status"]) for t in report["assignments"][0]["tests"]] == [
        ("test_hidden_add", "passed"), ("from-scratch rule (static check)", "passed")]


def _grade_unofficially(args: list[str], out: Path, forget_course_modules) -> dict:
    """``llmsoc grade ARGS --unofficial`` as JSON: it must grade, and say unofficial."""
    forget_course_modules()
    try:
        code = cli.main([*args, "--unofficial", "--format", "json", "--out", str(out)])
    finally:
        forget_course_modules()
    assert code == cli.EXIT_OK
    report = json.loads(out.read_text())
    assert report["official"] is False
    return report


SECRETS = {  # case -> (LLMSOC_SECRET, <course>/.llmsoc/secret, what the refusal says)
    "unset": (None, None, "no course secret: set LLMSOC_SECRET"),
    "short-variable": ("only-16-chars-xx", None, "from LLMSOC_SECRET has 16 characters"),
    "short-file": (None, "abc\n", "from .llmsoc/secret has 3 characters"),
}


@pytest.mark.parametrize("case", list(SECRETS))
def test_no_official_grade_without_a_course_secret(make_course, grade, monkeypatch, tmp_path,
                                                   capsys, forget_course_modules, case) -> None:
    """No course secret, or one under 32 characters (from the variable or the course's secret
    file): official grading is refused (exit 4, naming what is missing); ``--unofficial`` grades
    with the public preview secret and says so."""
    variable, file_text, needle = SECRETS[case]
    monkeypatch.delenv("LLMSOC_SECRET")
    if variable is not None:
        monkeypatch.setenv("LLMSOC_SECRET", variable)
    course = make_course(VALID, HIDDEN)
    if file_text is not None:
        (course / ".llmsoc").mkdir()
        (course / ".llmsoc" / "secret").write_text(file_text)
    with pytest.raises(OfficialGradingUnavailable) as info:
        grade(course, official=True)
    assert needle in str(info.value) and "at least 32" in str(info.value)
    args = ["grade", "demo", "--course", str(course), "--submission", str(course)]
    capsys.readouterr()
    assert cli.main(args) == cli.EXIT_NOT_OFFICIAL
    assert needle in capsys.readouterr().err
    if case != "unset":
        return  # grading unofficially is the same as below
    report = _grade_unofficially(args, tmp_path / "report.json", forget_course_modules)
    assert "the public preview secret (unofficial)" in report["environment"]["seed_mode"]
    assert report["assignments"][0]["tests"][0]["status"] == "passed"


# ----------------------------------------------------------------------------- a killed grader

TRAIN = """
    import ctypes

    import torch


    def add(a, b):
        return a + b


    def train(steps):
        ctypes.CDLL(None).prctl(15, b"llmsoc-training", 0, 0, 0)  # PR_SET_NAME: training now
        w = torch.zeros(256, requires_grad=True)
        opt = torch.optim.SGD([w], lr=1e-3)
        for _ in range(steps):
            loss = ((w - 1) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return float(loss)
    """

TRAIN_TEST = """
    import pytest


    @pytest.mark.points(1)
    @pytest.mark.category("training")
    @pytest.mark.timeout(600)
    def test_train(submission):
        assert submission.train(10**12) < 1.0
    """


@needs_sandbox
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_grader_killed_mid_test_leaves_nothing_behind(make_course, processes, tmp_path,
                                                        sig) -> None:
    """``llmsoc grade`` killed while the worker trains: within seconds no process of the
    sandbox (bwrap, the worker, by pid and by uid) is left, nor a file in /tmp, a mount, or a
    cgroup with processes in it."""
    course = make_course(TRAIN, TRAIN_TEST)
    tmp_before, mounts_before = llmsoc_in_tmp(), mounts()
    log = (tmp_path / "grader.log").open("wb")
    grader = subprocess.Popen(
        [sys.executable, "-m", "autograder.cli", "grade", "demo", "--unofficial", "--course",
         str(course), "--submission", str(course), "--format", "json",
         "--out", str(tmp_path / "report.json")],
        cwd=ENGINE_ROOT, stdout=log, stderr=subprocess.STDOUT)
    sandbox: list = []
    try:
        training = processes.wait_until(lambda: [p for p in processes.descendants(grader.pid)
                                                 if "llmsoc-training" in p.comms], 120)
        assert training, (tmp_path / "grader.log").read_text()[-3000:]
        sandbox = processes.descendants(grader.pid)  # bwrap (outside and inside), the worker
        assert any(p.comms == ("bwrap",) for p in sandbox)
        uids = {p.uid for p in training}
        if CAPS.root:
            assert all(process.UID_BASE <= u < process.UID_BASE + process.UID_RANGE for u in uids)
        os.kill(grader.pid, sig)
        assert grader.wait(timeout=10) == -sig
        gone = processes.wait_until(
            lambda: not processes.still_there(sandbox)
            and not (CAPS.root and processes.with_uids(uids)), 10)
        assert gone, (processes.still_there(sandbox), processes.with_uids(uids))
    finally:
        log.close()
        if grader.poll() is None:
            grader.kill()
            grader.wait()
        for p in processes.still_there(sandbox):  # only after a failure above
            os.kill(p.pid, signal.SIGKILL)
    assert llmsoc_in_tmp() <= tmp_before
    assert mounts() <= mounts_before
    if CAPS.cgroup_pids:  # a SIGKILLed grader cannot remove its cgroup: empty, the next sweeps it
        left = list(process.pids_parent().glob(f"llmsoc-{grader.pid}-*"))
        assert all((c / "cgroup.procs").read_text().strip() == "" for c in left)
        process.sweep_cgroups(process.pids_parent())
        assert not any(c.exists() for c in left)


# ----------------------------------------------------------------------------- budgets

BUDGET = """
    import threading
    import time


    def add(a, b):
        return a + b


    def settle():
        for t in threading.enumerate():  # the worker's own start-up work in the background
            if t is not threading.current_thread():
                t.join()
        return True


    def work(cpu_s):
        start, wall = time.process_time(), time.monotonic()
        while time.process_time() - start < cpu_s:
            pass
        return time.monotonic() - wall


    def nap():
        time.sleep(1000)


    def spin():
        while True:
            pass
    """

BUDGET_TESTS = """
    import os
    import signal
    import threading
    import time
    from pathlib import Path

    import pytest


    def worker_pids():
        # this grader's worker: a python process below it (bwrap's processes are not)
        table = {}
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            table[int(pid)] = (int(stat.rsplit(")", 1)[1].split()[1]), cmdline)
        below, todo = [], [os.getpid()]
        while todo:
            parent = todo.pop()
            for pid, (ppid, cmdline) in table.items():
                if ppid == parent:
                    todo.append(pid)
                    if b"autograder.worker.server" in cmdline and b"bwrap" not in cmdline:
                        below.append(pid)
        return below


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.timeout(120)
    def test_settle(submission):
        assert submission.settle()


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.timeout(2)
    def test_starved(submission):
        pids = worker_pids()
        assert pids

        def starve():
            time.sleep(0.2)
            for pid in pids:
                os.kill(pid, signal.SIGSTOP)
            time.sleep(3)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)

        thread = threading.Thread(target=starve)
        start = time.monotonic()
        thread.start()
        try:
            submission.work(1.0)
        finally:
            thread.join()
        wall = time.monotonic() - start
        assert wall > 3, f"the worker was not held up ({wall:.1f} s)"


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.timeout(1)
    def test_nap(submission):
        submission.nap()


    @pytest.mark.points(1)
    @pytest.mark.category("value")
    @pytest.mark.timeout(1)
    def test_spin(submission):
        submission.spin()
    """


@pytest.fixture(scope="module")
def budgets(make_course, grade):
    return grade(make_course(BUDGET, public=BUDGET_TESTS))


def test_a_worker_starved_of_cpu_is_not_timed_out(budgets) -> None:
    """1 CPU-second of work under a 2 s limit while the worker gets no CPU for 3 s (what a
    loaded machine does, in the extreme): passes, as the budget counts CPU time."""
    assert budgets["test_settle"].status == "passed"
    starved = budgets["test_starved"]
    assert starved.status == "passed", starved.feedback
    assert starved.duration_s > 3


def test_a_sleeping_worker_is_stopped_by_the_stall_rule(budgets) -> None:
    """``time.sleep(1000)`` under a 1 s limit: stopped as making no progress about 10 s in."""
    nap = budgets["test_nap"]
    assert (nap.status, nap.failure_class) == ("timeout", "timeout")
    assert "made no progress for 10 s after 1 s (sleeping or blocked)" in nap.feedback
    assert 8 < nap.duration_s < 20


def test_a_spinning_worker_is_stopped_by_its_cpu_budget(budgets) -> None:
    """``while True: pass`` under a 1 s limit: stopped for using its CPU-seconds."""
    spin = budgets["test_spin"]
    assert (spin.status, spin.failure_class) == ("timeout", "timeout")
    assert "used more than 1 CPU-seconds (1 s on each of its threads)" in spin.feedback
    assert spin.duration_s < 12
    report = formats.to_json(budgets.report)
    assert "restarted 2 time(s)" in report
