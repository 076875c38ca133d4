#!/usr/bin/env bash
# Shadow-run benchmark (issue 24 item 3): the live p99 of GET /v1/crm/customers/{id} for a
# tenant whose CRM is shadowed at 100 % against a tenant that is not, same server process,
# same load settings, rounds alternating between the two. The candidate is the `crm-shadow`
# fixture (a CRM that answers `name` in capitals); its conformance verdict is overridden as
# for any partner CRM on trial. Prints a markdown table to stdout (per round req/s, p50 and
# p99 of each tenant and the p99 ratio, then the medians) and the shadowed tenant's report
# counters (runs compared, skipped). Progress goes to stderr.
#
# Settings (environment): ROUNDS (3), DURATION (10s), CONNECTIONS (16), THREADS (2),
# WARMUP (5s per tenant), VEROFIELD_BIN (a release server: skip the build), CRM_WASM and
# CANDIDATE_WASM (built components: skip building them).
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
if [ -z "${CANDIDATE_WASM:-}" ]; then
  cargo build --manifest-path plugins/fixtures/Cargo.toml -p crm-shadow --target wasm32-wasip2 --release >&2
  CANDIDATE_WASM=plugins/fixtures/target/wasm32-wasip2/release/crm_shadow.wasm
fi

work="$PWD/target/bench-shadow/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$work/modules"
cp "$CRM_WASM" "$work/modules/verofield_crm.wasm"
trap stop_server EXIT
trap 'exit 130' INT TERM
# Each tenant's shares are lifted to the load's connections, plus the host's shadow capacity
# (2 runs): shadow work takes the shadowed tenant's permits like its own requests do.
start_server "$work" "$work/modules" \
  --tenant-max-transactions $((CONNECTIONS + 2)) --tenant-max-module-calls $((CONNECTIONS + 2))

customer() {
  curl -sf -X POST "$base/v1/crm/customers" \
    -H "authorization: Bearer $1" -H 'content-type: application/json' \
    -d '{"name":"Ada Lovelace","email":"ada@example.com","tags":["vip","maths"]}' | jq -r .id
}
plain_token=$(create_tenant "plain-$$")
shadowed_token=$(create_tenant "shadowed-$$")
plain_url="$base/v1/crm/customers/$(customer "$plain_token")"
shadowed_url="$base/v1/crm/customers/$(customer "$shadowed_token")"

uploaded=$(upload_module "$CANDIDATE_WASM" "shadowed-$$")
digest=$(jq -r .digest <<<"$uploaded")
wait_for_conformance "$digest" >/dev/null
curl -sf -X POST "$base/v1/operator/modules/$digest/conformance/override" \
  -H "authorization: Bearer $operator_token" -H 'content-type: application/json' \
  -d '{"reason":"shadow benchmark"}' >/dev/null
grants=$(curl -sf -H "authorization: Bearer $shadowed_token" "$base/v1/modules/crm-shadow/0.2.0" | jq -c .grants)
until=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)
curl -sf -X POST "$base/v1/tenant/modules/crm/shadow" -H "authorization: Bearer $shadowed_token" \
  -H 'content-type: application/json' \
  -d "{\"version\":\"$digest\",\"sample_percent\":100,\"until\":\"$until\",\"accept\":$grants}" >/dev/null
log "tenant shadowed-$$ shadows its crm with $digest at 100 %"

to_ms() {
  awk '{ v = $1; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.2f", v }'
}
# run_wrk NAME TOKEN URL DURATION -> "rps p50 p99"; the full output goes to $work/NAME.txt.
run_wrk() {
  local out n errors
  out=$(wrk --latency -t "$THREADS" -c "$CONNECTIONS" -d "$4" -H "authorization: Bearer $2" "$3")
  printf '%s\n\n' "$out" >>"$work/$1.txt"
  n=$(awk '/requests in/ { print $1 }' <<<"$out")
  errors=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  if [ -n "$errors" ]; then
    log "$1: $errors of $n responses were not 2xx"
    if [ $((errors * 100)) -gt "$n" ]; then log "$out"; exit 1; fi
  fi
  echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")" \
    "$(awk '$1 == "50%" { print $2 }' <<<"$out" | to_ms)" \
    "$(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)"
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
med() { printf '%s\n' "$@" | median; }

log "warm-up: $WARMUP per tenant"
run_wrk warmup-plain "$plain_token" "$plain_url" "$WARMUP" >/dev/null
run_wrk warmup-shadowed "$shadowed_token" "$shadowed_url" "$WARMUP" >/dev/null
report() { curl -sf -H "authorization: Bearer $shadowed_token" "$base/v1/tenant/modules/crm/shadow/report"; }
before=$(report)

declare -a plain_rps plain_p50 plain_p99 shadowed_rps shadowed_p50 shadowed_p99 ratios
rows=""
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then order="plain shadowed"; else order="shadowed plain"; fi
  for side in $order; do
    if [ "$side" = plain ]; then result=$(run_wrk plain "$plain_token" "$plain_url" "$DURATION")
    else result=$(run_wrk shadowed "$shadowed_token" "$shadowed_url" "$DURATION"); fi
    read -r rps p50 p99 <<<"$result"
    log "round $round $side: $rps req/s, p50 $p50 ms, p99 $p99 ms"
    eval "${side}_rps+=($rps); ${side}_p50+=($p50); ${side}_p99+=($p99)"
  done
  i=$((round - 1))
  ratio=$(awk -v s="${shadowed_p99[$i]}" -v p="${plain_p99[$i]}" 'BEGIN { printf "%.2f", s / p }')
  ratios+=("$ratio")
  rows+="| $round (${order%% *} first) | $(printf '%.0f' "${plain_rps[$i]}") | $(printf '%.0f' "${shadowed_rps[$i]}")"
  rows+=" | ${plain_p50[$i]} | ${shadowed_p50[$i]} | ${plain_p99[$i]} | ${shadowed_p99[$i]} | ${ratio}x |"$'\n'
done
rows+="| **median** | **$(printf '%.0f' "$(med "${plain_rps[@]}")")** | **$(printf '%.0f' "$(med "${shadowed_rps[@]}")")**"
rows+=" | $(med "${plain_p50[@]}") | $(med "${shadowed_p50[@]}") | $(med "${plain_p99[@]}") | $(med "${shadowed_p99[@]}") | **$(med "${ratios[@]}")x** |"
sleep 1
after=$(report)

cat <<TABLE
wrk $(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }'), $THREADS threads, $CONNECTIONS connections, $DURATION per run, $ROUNDS rounds, warm-up $WARMUP per tenant; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end

| round | plain req/s | shadowed req/s | plain p50 (ms) | shadowed p50 (ms) | plain p99 (ms) | shadowed p99 (ms) | shadowed / plain p99 |
|---|---:|---:|---:|---:|---:|---:|---:|
${rows}
TABLE
jq -rn --argjson b "$before" --argjson a "$after" '
  "Shadowed tenant during the rounds: \($a.runs - $b.runs) candidate runs compared (\($a.body_differs - $b.body_differs) with a body difference), \($a.skipped - $b.skipped) sampled requests skipped for want of room; mean live \($a.live_mean_ms * 100 | round / 100) ms, candidate \($a.candidate_mean_ms * 100 | round / 100) ms (whole run)"'
log "wrk outputs: $work/{plain,shadowed}.txt"
