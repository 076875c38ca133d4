#!/usr/bin/env bash
# Quota benchmark (issue 24 item 4): what the monthly-call quota check costs a module request.
# One release server, two tenants side by side: `quota` has a quota (so every request reads it
# and the month's flushed calls), `free` has none (one primary-key look-up that finds nothing).
# Each round runs wrk on GET /v1/crm/customers/{id} for each tenant in turn, alternating which
# goes first. Prints a markdown table (req/s, p50, p99 per tenant per round, medians last);
# progress goes to stderr. The server and its embedded PostgreSQL stop on exit.
#
# Settings (environment): ROUNDS (3), DURATION (10s), CONNECTIONS (16), THREADS (2),
# WARMUP (5s per tenant), VEROFIELD_BIN (a built server: skip the release build),
# CRM_WASM (a built CRM component: skip building it).
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

if [ -z "${VEROFIELD_BIN:-}" ]; then
  cargo build --release -p verofield --bin verofield >&2
  VEROFIELD_BIN=target/release/verofield
fi
if [ -z "${CRM_WASM:-}" ]; then
  cargo build --manifest-path plugins/Cargo.toml -p verofield-crm --target wasm32-wasip2 --release >&2
  CRM_WASM=plugins/target/wasm32-wasip2/release/verofield_crm.wasm
fi

work="$PWD/target/bench-quota/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$work/modules"
cp "$CRM_WASM" "$work/modules/verofield_crm.wasm"
trap stop_server EXIT
# Per-tenant concurrency limits at the load's width, so the only refusal could be the quota.
start_server "$work" "$work/modules" \
  --tenant-max-transactions $((CONNECTIONS + 2)) --tenant-max-module-calls $((CONNECTIONS + 2))

# A tenant with one customer: "TOKEN URL" of GET /v1/crm/customers/{id}.
tenant_with_customer() {
  local token id
  token=$(create_tenant "$1")
  id=$(curl -sf -X POST "$base/v1/crm/customers" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"name":"Bench"}' | jq -r .id)
  echo "$token $base/v1/crm/customers/$id"
}
read -r quota_token quota_url <<<"$(tenant_with_customer bench-quota)"
read -r free_token free_url <<<"$(tenant_with_customer bench-free)"
curl -sf -X PUT "$base/v1/operator/usage/quota" -H "authorization: Bearer $operator_token" \
  -H 'content-type: application/json' \
  -d '{"tenant":"bench-quota","monthly_calls":1000000000000}' >/dev/null

# wrk's latency ("1.23ms") in milliseconds.
to_ms() {
  awk '{ v = $1; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; printf "%.2f", v }'
}

# run NAME TOKEN URL DURATION -> "rps p50 p99"; the wrk output goes to $work/NAME.txt.
run() {
  local out
  out=$(wrk --latency -t "$THREADS" -c "$CONNECTIONS" -d "$4" -H "authorization: Bearer $2" "$3")
  printf '%s\n\n' "$out" >>"$work/$1.txt"
  if grep -q 'Non-2xx' <<<"$out"; then log "$1: non-2xx answers"; log "$out"; exit 1; fi
  echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
    "$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)" \
    "$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)"
}

run warmup-quota "$quota_token" "$quota_url" "$WARMUP" >/dev/null
run warmup-free "$free_token" "$free_url" "$WARMUP" >/dev/null
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
declare -a quota_rps free_rps quota_p99 free_p99
rows=""
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="quota free"; else order="free quota"; fi
  for who in $order; do
    if [ "$who" = quota ]; then
      read -r rps p50 p99 <<<"$(run quota "$quota_token" "$quota_url" "$DURATION")"
      quota_rps+=("$rps"); quota_p99+=("$p99"); q="$rps | $p50 | $p99"
    else
      read -r rps p50 p99 <<<"$(run free "$free_token" "$free_url" "$DURATION")"
      free_rps+=("$rps"); free_p99+=("$p99"); f="$rps | $p50 | $p99"
    fi
    log "round $round $who: $rps req/s, p50 $p50 ms, p99 $p99 ms"
  done
  rows+="| $round (${order%% *} first) | $q | $f |"$'\n'
done
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

cat <<EOF
wrk, $THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds; $(nproc) CPUs; load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end

| round | with quota req/s | p50 (ms) | p99 (ms) | without quota req/s | p50 (ms) | p99 (ms) |
|---|---:|---:|---:|---:|---:|---:|
${rows}| **median** | **$(med "${quota_rps[@]}")** | | $(med "${quota_p99[@]}") | **$(med "${free_rps[@]}")** | | $(med "${free_p99[@]}") |
EOF
log "wrk outputs: $work/{quota,free}.txt"
