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
.venv/bin/python -m pip install --quiet -e ".[dev,review,ray]"

# --- Browser for the review app's end-to-end tests (tests/test_review_browser.py) -------------
# Playwright drives Debian's chromium package (Playwright's own browser download cannot be
# reached here). Installed only when missing, and only where apt-get can run: as root, or
# through sudo without a password.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else SUDO="unavailable"; fi
  fi
  if [ "$SUDO" != "unavailable" ]; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  else
    echo "setup.sh: chromium is missing and apt-get needs root; install it (apt-get install chromium)" >&2
  fi
fi
# --- end of the browser block -------------------------------------------------------------------
