#!/usr/bin/env bash
# Set up and run the whole test suite (fast and slow tests) plus the style check.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest -q "$@"
