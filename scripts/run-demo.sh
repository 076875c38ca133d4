#!/usr/bin/env bash
# Runs the server with a demo tenant on the embedded PostgreSQL (data in ./.verofield).
# Extra arguments go to `verofield serve`, e.g. --listen 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
cargo build --manifest-path plugins/Cargo.toml -p verofield-crm --target wasm32-wasip2 --release
exec cargo run --release -p verofield -- serve --demo "$@"
