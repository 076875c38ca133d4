#!/usr/bin/env bash
# Upload-to-first-request benchmark: how long a module takes from the start of its upload to
# the first 200 from one of its routes, for the Rust CRM (plugins/crm) and its Python twin
# (plugins/crm-python), along the path a partner's module takes: the operator uploads it
# shared with a tenant (`POST /v1/operator/modules?share=`: validation and the Cranelift
# compile happen inside this request), the crm conformance pack runs on it in a throwaway
# tenant, the tenant's admin reads its grants and binds `crm` accepting them, and the tenant's
# first `GET /v1/crm/customers` is answered 200.
#
# Each cold run starts a fresh server on a fresh embedded PostgreSQL and data directory, so
# nothing is cached: not the compiled code (the cache lives in the data directory) nor the
# version. No built-in modules are published, so the upload is the first of its bytes. After
# the cold runs of a module, on the last run's server, the cached case: the same bytes
# uploaded again and shared with a second tenant (the code already compiled, the conformance
# already passed), bound, first request.
#
# Prints a markdown table to stdout (per run: upload+compile, of it the compile as the server
# measured it, conformance, consent+bind, first request, total; then the medians) with the
# load average at each run's start. Progress goes to stderr.
#
# Settings (environment): RUNS (3), VEROFIELD_BIN (default target/release/verofield, built
# when missing), CRM_WASM and PY_CRM_WASM (built components; built here when unset),
# MODULES ("rust python": which to measure).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

RUNS=${RUNS:-3}
MODULES=${MODULES:-rust python}
need_tools

# --- build ------------------------------------------------------------------------------
if [ -z "${VEROFIELD_BIN:-}" ]; then
  cargo build --release -p verofield --bin verofield >&2
  VEROFIELD_BIN=target/release/verofield
fi
if [ -z "${CRM_WASM:-}" ]; then
  cargo build --manifest-path plugins/Cargo.toml -p verofield-crm --target wasm32-wasip2 --release >&2
  CRM_WASM=plugins/target/wasm32-wasip2/release/verofield_crm.wasm
fi
if [ -z "${PY_CRM_WASM:-}" ] && [[ " $MODULES " == *" python "* ]]; then
  PY_CRM_WASM=target/python-modules/crm_python.wasm
  scripts/build-python-module.sh plugins/crm-python "$PY_CRM_WASM" >&2
fi

work="$PWD/target/bench-upload/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$work/no-builtins"
trap stop_server EXIT
trap 'exit 130' INT TERM

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# first_request TENANT_SLUG WASM -> "upload_ms compile_ms conformance_ms bind_ms first_ms
# total_ms": the tenant (created before) gets the module, timed step by step.
first_request() {
  local slug=$1 wasm=$2 token t0 t1 t2 t3 t4 uploaded digest conformance status
  token=$(create_tenant "$slug")
  t0=$(now_ms)
  uploaded=$(upload_module "$wasm" "$slug")
  t1=$(now_ms)
  digest=$(jq -r .digest <<<"$uploaded")
  conformance=$(wait_for_conformance "$digest")
  [ "$conformance" = passed ] || { log "conformance of $wasm: $conformance"; exit 1; }
  t2=$(now_ms)
  consent_and_bind "$token" crm "$(jq -r .name <<<"$uploaded")" "$(jq -r .version <<<"$uploaded")"
  t3=$(now_ms)
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$base/v1/crm/customers")
  t4=$(now_ms)
  [ "$status" = 200 ] || { log "the first request answered $status"; exit 1; }
  echo "$((t1 - t0)) $(jq -r .validation.load_ms <<<"$uploaded") $((t2 - t1)) $((t3 - t2)) $((t4 - t3)) $((t4 - t0))"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

rows=""
for module in $MODULES; do
  if [ "$module" = rust ]; then wasm=$CRM_WASM; else wasm=$PY_CRM_WASM; fi
  size=$(stat -c %s "$wasm")
  declare -a columns=()
  for run in $(seq 1 "$RUNS"); do
    stop_server
    # Uploads of a 19 MB component compile for tens of seconds on a busy machine.
    start_server "$work/$module-$run" "$work/no-builtins" \
      --request-timeout-secs 300 --module-compile-timeout-ms 280000
    load=$(cut -d' ' -f1 /proc/loadavg)
    result=$(first_request "bench-$module-$run" "$wasm")
    log "$module run $run (load $load): upload+compile, compile, conformance, bind, first request, total (ms): $result"
    rows+="| $module ($size B) | $run, cold | ${result// / | } | $load |"$'\n'
    columns+=("$result")
  done
  for i in 1 2 3 4 5 6; do
    med[i]=$(for c in "${columns[@]}"; do cut -d' ' -f"$i" <<<"$c"; done | median)
  done
  rows+="| $module | **median** | ${med[1]} | ${med[2]} | ${med[3]} | ${med[4]} | ${med[5]} | **${med[6]}** | |"$'\n'
  load=$(cut -d' ' -f1 /proc/loadavg)
  result=$(first_request "bench-$module-cached" "$wasm")
  read -r upload _ conformance bind first total <<<"$result"
  log "$module cached (load $load): upload $upload, conformance $conformance, bind $bind, first request $first, total $total (ms)"
  rows+="| $module | cached | $upload | (compiled before) | $conformance | $bind | $first | $total | $load |"$'\n'
done
stop_server

cat <<EOF
$(nproc) CPUs; server $VEROFIELD_BIN; times in ms (curl to curl, on the benchmark's clock); compile is the server's own measure, inside upload+compile

| module | run | upload + compile | of it compile | conformance | consent + bind | first request | total | load average (1 min) |
|---|---|---:|---:|---:|---:|---:|---:|---:|
${rows}
EOF
