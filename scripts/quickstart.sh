#!/usr/bin/env bash
# The main job on a fresh clone: set up, train the default model once (if model/default is
# missing), then search PubMed and store what is found in pkharvest.duckdb.
#   bash scripts/quickstart.sh ["PubMed query"]
# Needs the annotated corpus for the one-off training: ../shared/data/pk-sentences/annotated.jsonl,
# PKHARVEST_CORPUS, or `pkharvest corpus fetch pred` (downloads the published PRED corpus).
set -euo pipefail
cd "$(dirname "$0")/.."
QUERY=${1:-"vancomycin clearance"}
bash scripts/setup.sh
PK=.venv/bin/pkharvest
if [ ! -f model/default/model.safetensors ]; then
  echo "== training the default model (once) =="
  "$PK" train --out model/default
fi
echo "== searching PubMed: $QUERY =="
"$PK" search "$QUERY" --db pkharvest.duckdb --max-results "${PKHARVEST_MAX_RESULTS:-50}"
echo "== per drug x parameter summary =="
"$PK" query parameter_summary --db pkharvest.duckdb
