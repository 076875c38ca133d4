#!/usr/bin/env bash
# Runs vrptw-bench on all Solomon instances at 1 s and 10 s (seed 1), writing
# plugins/vrptw/bench/results/vrptw_solomon_{1,10}s.{csv,json,txt}.
# Usage (from the repo root): bash plugins/vrptw/bench/run_vrptw.sh [DATA_DIR]
set -euo pipefail
DATA=${1:-../shared/data/solomon}
HERE=$(cd "$(dirname "$0")" && pwd)
cargo build --manifest-path "$HERE/../../Cargo.toml" -p vrptw --release
BIN="$HERE/../../target/release/vrptw-bench"
for budget in 1 10; do
  nice -n 10 "$BIN" --data "$DATA" --budget "$budget" --seed 1 --out "$HERE/results" \
    --label "vrptw_solomon_${budget}s" | tee "$HERE/results/vrptw_solomon_${budget}s.txt"
done
