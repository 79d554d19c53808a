#!/usr/bin/env bash
# Create .venv (if needed) and install pkharvest with its test tools. Idempotent.
# torch is pinned below 2.14 so that pip takes the CPU wheel where one is available locally.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
.venv/bin/python -m pip install --quiet -e ".[dev]"
