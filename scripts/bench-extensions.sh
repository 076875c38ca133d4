#!/usr/bin/env bash
# Extension point benchmark: what `jobs.validate` adds to `POST /v1/jobs` with nothing
# installed, one sample extension, and a hostile one stopped by fuel or memory. The measuring
# program is tests/src/bin/bench-extensions.rs. Argument: requests per case (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p verofield --bin verofield
cargo build --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 --release
export VEROFIELD_BIN=${VEROFIELD_BIN:-$PWD/target/release/verofield}
export VEROFIELD_BUILTIN_MODULES=${VEROFIELD_BUILTIN_MODULES:-$PWD/plugins/target/wasm32-wasip2/release}
cargo run --release -p verofield-tests --bin bench-extensions -- "$@"
