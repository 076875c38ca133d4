#!/usr/bin/env bash
# Event-delivery benchmark: sustained events/s from the outbox to one module subscriber and to
# one local webhook receiver, with p50/p99 from the event's transaction to its delivery, at
# fixed offered rates (open-loop customer creates over HTTP, one event each). The measuring
# program is tests/src/bin/bench-events.rs (its header says exactly what is timed).
#
# Builds the release server, the built-in modules and the event-sink fixture, then runs one
# server on the shared test cluster (target/test-pg, started if needed, or DATABASE_URL).
# Arguments go to the program: `module`/`webhook` to run one side, rates (default
# 100 250 500 1000), `--seconds N` per rate (20), `--tenants N` (10).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p verofield --bin verofield
cargo build --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 --release
export VEROFIELD_BIN=${VEROFIELD_BIN:-$PWD/target/release/verofield}
export VEROFIELD_BUILTIN_MODULES=${VEROFIELD_BUILTIN_MODULES:-$PWD/plugins/target/wasm32-wasip2/release}
# Release: the load generator shares the two cores with the server and PostgreSQL.
cargo run --release -p verofield-tests --bin bench-events -- "$@"
