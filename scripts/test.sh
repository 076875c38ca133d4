#!/usr/bin/env bash
# Runs the whole test suite: unit tests and the black-box suites (real server binary, real
# PostgreSQL). Without DATABASE_URL the suites share one embedded cluster under
# target/test-pg, stopped again at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh

# The embedded PostgreSQL runs as the `postgres` user, which must be able to reach
# target/ (the shared test cluster and the servers' data directories live there).
if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$PWD" 2>/dev/null; then
  dir="$PWD"
  while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
fi

stop_test_cluster() {
  local data=target/test-pg/data
  if [ -f "$data/postmaster.pid" ]; then
    local pg_ctl
    pg_ctl=$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -n 1)
    if [ "$(id -u)" = 0 ]; then
      runuser -u postgres -- "$pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    else
      "$pg_ctl" -D "$data" -m fast -w stop >/dev/null || true
    fi
  fi
}
trap stop_test_cluster EXIT

# Style gates first: formatting of every workspace, clippy with warnings as errors.
cargo fmt --all --check
cargo fmt --manifest-path plugins/Cargo.toml --all --check
cargo fmt --manifest-path plugins/fixtures/Cargo.toml --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy --manifest-path plugins/Cargo.toml --workspace --all-targets -- -D warnings

# The built-in modules the end-to-end suites serve (the server publishes them at start-up).
# Every component crate in plugins/ (the libraries build too, and are not published).
cargo build --manifest-path plugins/Cargo.toml --workspace --target wasm32-wasip2 --release
export VEROFIELD_BUILTIN_MODULES="$PWD/plugins/target/wasm32-wasip2/release"
# The test fixtures too, before any test starts a server (the harness would otherwise build
# them inside the first test that needs one).
cargo build --manifest-path plugins/fixtures/Cargo.toml --workspace --target wasm32-wasip2 --release
cargo build --workspace --all-targets
# The Python SDK's, the Python CRM's and the Python extension's unit tests (plain unittest),
# then their components: the python_crm suite uploads the CRM (the harness would otherwise
# build it inside its first test); the extension is built so a broken build fails here.
(cd plugins/sdk-python && python3 -m unittest discover -s tests)
(cd plugins/crm-python && PYTHONPATH=../sdk-python python3 -m unittest discover -s tests)
(cd plugins/extensions/no-phone-notes-python && python3 -m unittest discover -s tests)
./scripts/build-python-module.sh plugins/crm-python target/python-modules/crm_python.wasm
./scripts/build-python-module.sh plugins/extensions/no-phone-notes-python \
  target/python-modules/no_phone_notes_python.wasm extension
# The suites run this binary rather than building `-p verofield` again (alone, its features
# unify differently from the workspace's and would rebuild wasmtime).
export VEROFIELD_BIN="$PWD/target/debug/verofield"
cargo test --workspace --no-fail-fast -- --test-threads="${TEST_THREADS:-4}"
if [ -f plugins/Cargo.toml ]; then
  cargo test --manifest-path plugins/Cargo.toml --workspace
fi
