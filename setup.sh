#!/usr/bin/env bash
# One-time set-up: a virtual environment with the course's engine installed (editable).
# A CPU build of torch is installed first when none is present, so pip does not pull a
# multi-gigabyte CUDA build; a GPU machine can install any torch>=2.1 beforehand.
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
echo "set up: $(python -c 'import torch, sys; print("python", sys.version.split()[0], "torch", torch.__version__)')"
