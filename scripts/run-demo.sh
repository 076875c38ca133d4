#!/usr/bin/env bash
# Runs the server with a demo tenant on the embedded PostgreSQL (data in ./.verofield); the
# first run fills it with the small demo company (about 200 jobs, a few seconds in release).
# Extra arguments go to `verofield serve`, e.g. --listen 0.0.0.0:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
# Every component crate in plugins/ (the libraries build too, and are not published).
cargo build --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 --release
exec cargo run --release -p verofield -- serve --demo "$@"
