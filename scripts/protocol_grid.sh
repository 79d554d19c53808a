#!/usr/bin/env bash
# The low-resource study's protocol grid (docs/experiments.md, "The protocol preset"), as many
# shards side by side as asked, into one folder; then its report. Resumable: run it again to
# train what is missing.
#   OUT=experiments/protocol SEEDS=10 SHARDS=4 DEVICE=cuda bash scripts/protocol_grid.sh
# OUT (default experiments/protocol), SEEDS (5), SHARDS (1), DEVICE (cpu), PK (the pkharvest
# command, default .venv/bin/pkharvest), EXTRA (more options for `experiment run`, e.g.
# "--set lr=3e-5"). Each shard's output goes to OUT/shard-K.log.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-experiments/protocol}
SEEDS=${SEEDS:-5}
SHARDS=${SHARDS:-1}
DEVICE=${DEVICE:-cpu}
PK=${PK:-.venv/bin/pkharvest}
# shellcheck disable=SC2206  # EXTRA is split into words on purpose
ARGS=(experiment run --preset protocol --out "$OUT" --seeds "$SEEDS" --set "device=$DEVICE"
      ${EXTRA:-})
if [ "$DEVICE" = cpu ]; then
  export OMP_NUM_THREADS=1
  ARGS+=(--set threads=1)
fi
mkdir -p "$OUT"
"$PK" "${ARGS[@]}" --dry-run
started=$(date +%s)
pids=()
for k in $(seq 1 "$SHARDS"); do
  "$PK" "${ARGS[@]}" --shard "$k/$SHARDS" >"$OUT/shard-$k.log" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
echo "grid wall time: $(( $(date +%s) - started )) s; hardware: $(nproc) CPU(s)" \
  "$(command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name --format=csv,noheader | head -1 || true)"
"$PK" "${ARGS[@]}" --dry-run
"$PK" experiment report "$OUT"
exit "$status"
