#!/usr/bin/env bash
# The test command: the engine's own tests, then every assignment validated (reference full
# marks on LLMSOC_SEEDS seeds, default 2; blank stubs zero; every mutant caught). Before a
# release, validate on 20 seeds: LLMSOC_SEEDS=20 ./run-tests.sh (about an hour on two cores).
set -euo pipefail
cd "$(dirname "$0")"
[ -f .venv/bin/activate ] && . .venv/bin/activate
python -m pytest tests/engine -q
llmsoc validate --seeds "${LLMSOC_SEEDS:-2}"
