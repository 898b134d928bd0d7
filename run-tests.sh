#!/usr/bin/env bash
# The test command: the engine's own tests, then every assignment validated
# (reference full marks on 20 seeds, blank stubs zero, every mutant caught).
set -euo pipefail
cd "$(dirname "$0")"
[ -f .venv/bin/activate ] && . .venv/bin/activate
python -m pytest tests/engine -q
llmsoc validate --seeds "${LLMSOC_SEEDS:-20}"
