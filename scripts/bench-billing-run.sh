#!/usr/bin/env bash
# Agreement billing run benchmark: how long the billing module's nightly task takes to draft
# one invoice for each of N agreements (default 10000), and at how many drafts a second. The
# measuring program is tests/src/bin/bench-billing-run.rs (its header says what is timed).
#
# Builds the release server, the built-in modules and the program, then runs one server on
# the shared test cluster (target/test-pg, started if needed, or DATABASE_URL). Arguments are
# agreement counts, e.g. `scripts/bench-billing-run.sh 1000 10000`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p verofield --bin verofield
cargo build --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 --release
export VEROFIELD_BIN=${VEROFIELD_BIN:-$PWD/target/release/verofield}
export VEROFIELD_BUILTIN_MODULES=${VEROFIELD_BUILTIN_MODULES:-$PWD/plugins/target/wasm32-wasip2/release}
cargo run --release -p verofield-tests --bin bench-billing-run -- "$@"
