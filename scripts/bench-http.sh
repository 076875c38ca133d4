#!/usr/bin/env bash
# HTTP benchmark: GET /v1/crm/customers/{id} through the CRM WebAssembly module against the
# host's native reference handler GET /v1/baseline/crm/customers/{id} (serve --bench-baseline),
# same server process, same customer, same token, same load settings, rounds alternating
# between the two routes. Prints a markdown table to stdout: per round, req/s, p50 and p99 of
# each route and the module/native req/s ratio, then the medians over the rounds (the ratio's
# is the median of the per-round ratios). Progress and details go to stderr.
#
# Builds the release server and the CRM component, starts the server on an embedded PostgreSQL
# in a fresh data directory under target/bench-http/ (or on DATABASE_URL when set: give it an
# empty database), creates a tenant and a customer through the API, logs in, then runs wrk.
# The server (and its embedded PostgreSQL) is stopped on exit, whatever happens.
#
# Settings (environment): ROUNDS (3), DURATION (10s), CONNECTIONS (16), THREADS (2),
# WARMUP (5s, per route, before the first round), VEROFIELD_BIN (a server built with
# `--features bench-baseline`: skip the release build), CRM_WASM (a built CRM component: skip building it), BIND_TENANT (1: bind the
# tenant's `crm` slot to the built-in explicitly first, so that each module request finds its
# binding and skips the per-request look-up of the built-in on a second pool connection).
#
# With VERSUS=python the second route is not the native handler but the Python twin of the
# CRM (plugins/crm-python, PY_CRM_WASM: a built component, else built here): a second tenant
# is served by it (uploaded as the operator, shared, its conformance passed, consented to and
# bound). Any server binary will do then (no bench-baseline feature).
# scripts/bench-upload.sh times the path from upload to first request.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
THREADS=${THREADS:-2}
WARMUP=${WARMUP:-5s}

need_tools

# --- build ------------------------------------------------------------------------------
VERSUS=${VERSUS:-native}
if [ -z "${VEROFIELD_BIN:-}" ]; then
  # The native reference route exists only with this feature.
  cargo build --release -p verofield --bin verofield --features bench-baseline >&2
  VEROFIELD_BIN=target/release/verofield
fi
if [ -z "${CRM_WASM:-}" ]; then
  rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2 >&2
  cargo build --manifest-path plugins/Cargo.toml -p verofield-crm --target wasm32-wasip2 --release >&2
  CRM_WASM=plugins/target/wasm32-wasip2/release/verofield_crm.wasm
fi
if [ "$VERSUS" = python ] && [ -z "${PY_CRM_WASM:-}" ]; then
  PY_CRM_WASM=target/python-modules/crm_python.wasm
  scripts/build-python-module.sh plugins/crm-python "$PY_CRM_WASM" >&2
fi

# --- server -----------------------------------------------------------------------------
work="$PWD/target/bench-http/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$work/modules"
# Only the CRM component is published: the benchmark does not depend on the other plugins.
cp "$CRM_WASM" "$work/modules/verofield_crm.wasm"
trap stop_server EXIT
trap 'exit 130' INT TERM

# One tenant's throughput is measured, so its fair shares are lifted to the load's connections
# (with the defaults, 16 connections of one tenant get 429 `tenant_busy` past its share).
# The native route needs --bench-baseline; an upload of the Python CRM compiles in its request.
if [ "$VERSUS" = python ]; then
  extra_args=(--request-timeout-secs 300 --module-compile-timeout-ms 280000)
else
  extra_args=(--bench-baseline)
fi
start_server "$work" "$work/modules" "${extra_args[@]}" \
  --tenant-max-transactions "$CONNECTIONS" --tenant-max-module-calls "$CONNECTIONS"

# --- fixtures ---------------------------------------------------------------------------
# customer TOKEN -> the id of a new customer of that tenant
customer() {
  curl -sf -X POST "$base/v1/crm/customers" \
    -H "authorization: Bearer $1" -H 'content-type: application/json' \
    -d '{"name":"Ada Lovelace","email":"ada@example.com","phone":"+44 20 7946 0000","tags":["vip","maths"],"notes":"gate code 1234","billing_address":{"line1":"12 St James'"'"'s Square","city":"London","country":"GB"}}' \
    | jq -r .id
}
slug="bench-$$"
token=$(create_tenant "$slug")
id=$(customer "$token")

if [ "${BIND_TENANT:-0}" = 1 ]; then
  digest=$(curl -sf -H "authorization: Bearer $token" "$base/v1/modules" | jq -r '.items[] | select(.slot == "crm") | .digest' | head -n 1)
  curl -sf -X PUT "$base/v1/tenant/modules/crm" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d "{\"version\":\"$digest\"}" >/dev/null
  log "tenant bound to crm $digest"
fi

module_url="$base/v1/crm/customers/$id"
native_url="$base/v1/baseline/crm/customers/$id"
native_token=$token
if [ "$VERSUS" = python ]; then
  # The "native" side becomes a second tenant served by the Python CRM.
  native_token=$(create_tenant "$slug-py")
  # Upload-to-first-request is timed by scripts/bench-upload.sh; here it is only set-up.
  uploaded=$(upload_module "$PY_CRM_WASM" "$slug-py")
  py_digest=$(jq -r .digest <<<"$uploaded")
  conformance=$(wait_for_conformance "$py_digest")
  [ "$conformance" = passed ] || { log "the Python CRM's conformance: $conformance"; exit 1; }
  consent_and_bind "$native_token" crm "$(jq -r .name <<<"$uploaded")" "$(jq -r .version <<<"$uploaded")"
  native_url="$base/v1/crm/customers/$(customer "$native_token")"
  log "Python CRM ($(stat -c %s "$PY_CRM_WASM") bytes) $py_digest: compiled in $(jq -r .validation.load_ms <<<"$uploaded") ms, conformance $conformance, bound"
fi
# The tenants' own ids and times differ; the rest of the answer must not.
same_shape() { jq -S 'del(.id, .created_at, .updated_at)' <<<"$1"; }
module_body=$(curl -sf -H "authorization: Bearer $token" "$module_url")
native_body=$(curl -sf -H "authorization: Bearer $native_token" "$native_url")
if [ "$(same_shape "$module_body")" != "$(same_shape "$native_body")" ]; then
  log "the two routes answer different bodies:"; log "module: $module_body"; log "native: $native_body"
  exit 1
fi
log "both routes answer ${#module_body} bytes: $module_body"

# --- load -------------------------------------------------------------------------------
# wrk's latency lines ("50%  1.23ms") in milliseconds.
to_ms() {
  awk '{ v = $1; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.2f", v }'
}

# CPU time (clock ticks) of the server process, and of the embedded PostgreSQL (the postmaster,
# its live backends, and what its exited children used). Under a shared, loaded machine the
# CPU each request costs is steadier than the request rate.
tick=$(getconf CLK_TCK)
proc_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
server_ticks() { proc_ticks "$server_pid"; }
pg_ticks() {
  local pm_file="$server_work/data/pg/data/postmaster.pid" pm total child
  [ -f "$pm_file" ] || { echo 0; return; }
  pm=$(head -n 1 "$pm_file")
  total=$(awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pm/stat" 2>/dev/null || echo 0)
  for child in $(pgrep -P "$pm"); do total=$((total + $(proc_ticks "$child"))); done
  echo "$total"
}

# run_wrk NAME URL DURATION -> "rps p50 p99 server_us pg_us" on stdout (CPU microseconds per
# request; pg_us is "n/a" on DATABASE_URL); the full wrk output goes to $work/NAME.txt.
run_wrk() {
  local name=$1 url=$2 duration=$3 out s0 s1 p0 p1 bearer=$token
  [ "$name" = native ] || [ "$name" = warmup-native ] && bearer=$native_token
  s0=$(server_ticks); p0=$(pg_ticks)
  out=$(wrk --latency -t "$THREADS" -c "$CONNECTIONS" -d "$duration" \
    -H "authorization: Bearer $bearer" "$url")
  s1=$(server_ticks); p1=$(pg_ticks)
  printf '%s\n\n' "$out" >>"$work/$name.txt"
  local rps p50 p99 n server_us pg_us errors
  n=$(awk '/requests in/ { print $1 }' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  if [ -n "$errors" ]; then
    # A few 500s can come from connections a cancelled request left inside a transaction
    # (see BENCHMARKS.md); more than 1% means something else is wrong.
    log "$name: $errors of $n responses were not 2xx (server log: $work/server.err)"
    if [ $((errors * 100)) -gt "$n" ]; then log "$out"; exit 1; fi
  fi
  rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
  p50=$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)
  p99=$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)
  server_us=$(awk -v d=$((s1 - s0)) -v t="$tick" -v n="$n" 'BEGIN { printf "%.0f", d / t * 1e6 / n }')
  if [ -n "${DATABASE_URL:-}" ]; then pg_us=n/a; else
    pg_us=$(awk -v d=$((p1 - p0)) -v t="$tick" -v n="$n" 'BEGIN { printf "%.0f", d / t * 1e6 / n }')
  fi
  echo "$rps $p50 $p99 $server_us $pg_us"
}

median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

log "warm-up: $WARMUP per route"
run_wrk warmup-module "$module_url" "$WARMUP" >/dev/null
run_wrk warmup-native "$native_url" "$WARMUP" >/dev/null

load_start=$(cut -d' ' -f1 /proc/loadavg)
declare -a module_rps module_p50 module_p99 module_cpu module_total
declare -a native_rps native_p50 native_p99 native_cpu native_total ratios
rows=""
for round in $(seq 1 "$ROUNDS"); do
  # Alternate which route goes first, so neither always runs on a warmer (or busier) machine.
  if [ $((round % 2)) = 1 ]; then order="module native"; else order="native module"; fi
  for route in $order; do
    if [ "$route" = module ]; then url=$module_url; else url=$native_url; fi
    result=$(run_wrk "$route" "$url" "$DURATION")
    read -r rps p50 p99 server_us pg_us <<<"$result"
    log "round $round $route: $rps req/s, p50 $p50 ms, p99 $p99 ms, CPU per request: server $server_us us, PostgreSQL $pg_us us (load $(cut -d' ' -f1-3 /proc/loadavg))"
    eval "${route}_rps+=($rps); ${route}_p50+=($p50); ${route}_p99+=($p99); ${route}_cpu+=(\"$server_us + $pg_us\")"
    [ "$pg_us" = n/a ] || eval "${route}_total+=($((server_us + pg_us)))"
  done
  i=$((round - 1))
  ratio=$(awk -v m="${module_rps[$i]}" -v n="${native_rps[$i]}" 'BEGIN { printf "%.2f", m / n }')
  ratios+=("$ratio")
  rows+="| $round (${order%% *} first) | $(printf '%.0f' "${module_rps[$i]}") | $(printf '%.0f' "${native_rps[$i]}") | ${ratio}x"
  rows+=" | ${module_p50[$i]} | ${native_p50[$i]} | ${module_p99[$i]} | ${native_p99[$i]}"
  rows+=" | ${module_cpu[$i]} | ${native_cpu[$i]} |"$'\n'
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

med() { printf '%s\n' "$@" | median; }
rows+="| **median** | **$(printf '%.0f' "$(med "${module_rps[@]}")")** | **$(printf '%.0f' "$(med "${native_rps[@]}")")**"
rows+=" | **$(med "${ratios[@]}")x** | $(med "${module_p50[@]}") | $(med "${native_p50[@]}")"
rows+=" | $(med "${module_p99[@]}") | $(med "${native_p99[@]}") | | |"

cat <<EOF
wrk $(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }'), $([ "${BIND_TENANT:-0}" = 1 ] && echo 'tenant bound explicitly (BIND_TENANT=1), ')$THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds, warm-up $WARMUP per route; $(nproc) CPUs; load average $load_start at the start, $load_end at the end

Second route: $([ "$VERSUS" = python ] && echo 'the Python CRM (a second tenant), "native" below' || echo 'the native handler')

| round | module req/s | native req/s | module / native | module p50 (ms) | native p50 (ms) | module p99 (ms) | native p99 (ms) | module CPU/req (µs, server + PG) | native CPU/req (µs, server + PG) |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${rows}
EOF
if [ "${#module_total[@]}" -gt 0 ]; then
  m_cpu=$(med "${module_total[@]}"); n_cpu=$(med "${native_total[@]}")
  echo
  echo "CPU per request, median over the rounds (server + PostgreSQL): module ${m_cpu} µs, native ${n_cpu} µs; native / module = $(awk -v m="$m_cpu" -v n="$n_cpu" 'BEGIN { printf "%.2f", n / m }')x"
fi
# The module calls alone (instantiation, the guest's work and its host calls; no HTTP, token
# or transaction), from the server's own histogram, warm-up included.
metrics=$(curl -sf "$base/metrics")
echo
echo "Module calls (\`module_call_duration_seconds\`: the mean over every call of the run, the quantiles over its last minute or so):"
awk '/^module_call_duration_seconds[_{]/ {
       match($0, /module="[^"]*"/); name = substr($0, RSTART + 8, RLENGTH - 9)
       if ($1 ~ /_sum\{/) sum[name] = $2
       else if ($1 ~ /_count\{/) count[name] = $2
       else if ($1 ~ /quantile="0.5"/) p50[name] = $2
       else if ($1 ~ /quantile="0.99"/) p99[name] = $2 }
     END { for (name in count) if (count[name] > 0)
             printf "- `%s`: mean %.0f µs, p50 %.0f µs, p99 %.0f µs (%d calls)\n", name,
               sum[name] / count[name] * 1e6, p50[name] * 1e6, p99[name] * 1e6, count[name] }' <<<"$metrics"
log "wrk outputs: $work/{module,native}.txt"
