#!/usr/bin/env bash
# Runs both reference tools on all Solomon instances at 1 s and 10 s, one at a time.
# Usage (from the repo root): bash plugins/vrptw/bench/run_reference.sh [DATA_DIR] [PYTHON]
set -euo pipefail
DATA=${1:-../shared/data/solomon}
PY=${2:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$HERE/results"
for budget in 1 10; do
  for tool in pyvrp vroom; do
    nice -n 10 "$PY" "$HERE/reference.py" --tool "$tool" --data "$DATA" --budget "$budget" --seed 1 \
      --out "$HERE/results/${tool}_solomon_${budget}s.csv" | tee "$HERE/results/${tool}_solomon_${budget}s.txt"
  done
done
