#!/usr/bin/env bash
# Noisy-neighbour benchmark: tenant B's GET /v1/crm/customers/{id} (wrk, CONNECTIONS_B=4) once on
# an idle server, then again while tenant A (the demo tenant) runs SOLVES=4 routing solves in a
# loop (POST /v1/routing/optimize, an inline problem with a 5 s budget each) and a c16 flood of
# GET /v1/crm/customers. Prints B's req/s and p99 both ways, the ratio of the p99s (the goal is
# at most 1.5), and what A's requests were answered (429 `tenant_busy` past A's shares is
# expected).
#
# Starts the server (release build unless VEROFIELD_BIN is set) with --demo on an embedded
# PostgreSQL in a fresh data directory under target/bench-noisy/, the built-in modules from
# VEROFIELD_BUILTIN_MODULES (default plugins/target/wasm32-wasip2/release: crm and routing must be
# built). Traffic goes only to 127.0.0.1; every load is bounded by DURATION. The server is
# stopped on exit, whatever happens.
#
# Settings (environment): DURATION (seconds, 10), CONNECTIONS_B (4), CONNECTIONS_A (16),
# SOLVES (4), BUDGET_MS (5000), THREADS (2), SERVE_ARGS (extra `serve` arguments, e.g.
# "--tenant-max-long-calls 4").
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/bench-lib.sh
. scripts/bench-lib.sh

DURATION=${DURATION:-10}
CONNECTIONS_B=${CONNECTIONS_B:-4}
CONNECTIONS_A=${CONNECTIONS_A:-16}
SOLVES=${SOLVES:-4}
BUDGET_MS=${BUDGET_MS:-5000}
THREADS=${THREADS:-2}
MODULES=${VEROFIELD_BUILTIN_MODULES:-plugins/target/wasm32-wasip2/release}

log() { printf '%s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
  log "installing wrk"
  if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
fi
for tool in curl jq; do
  command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
done
for module in verofield_crm verofield_routing; do
  [ -f "$MODULES/$module.wasm" ] || { log "$MODULES/$module.wasm is missing (build plugins/ first)"; exit 1; }
done
if [ -z "${VEROFIELD_BIN:-}" ]; then
  cargo build --release -p verofield --bin verofield >&2
  VEROFIELD_BIN=target/release/verofield
fi

# --- server -----------------------------------------------------------------------------
work="$PWD/target/bench-noisy/run-$(date -u +%Y%m%dT%H%M%SZ)-$$"
mkdir -p "$work/data"
if [ "$(id -u)" = 0 ]; then
  # The embedded PostgreSQL runs as `postgres` when we are root: it must reach the data dir.
  dir="$work/data"
  while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
fi
operator_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
server_pid=""
load_pids=()
stop_all() {
  for pid in "${load_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ ! -f "$work/data/pg/data/postmaster.pid" ]; then rm -rf "$work/data"; fi
  log "server log: $work/server.err"
}
trap stop_all EXIT
trap 'exit 130' INT TERM

# shellcheck disable=SC2086
VEROFIELD_OPERATOR_TOKEN="$operator_token" "$VEROFIELD_BIN" --data-dir "$work/data" serve \
  --listen 127.0.0.1:0 --demo --builtin-modules "$MODULES" --access-token-ttl-secs 3600 \
  ${SERVE_ARGS:-} >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

base=$(wait_for_listening "$work/server.out" "$work/server.err" "$server_pid")
log "server at $base (pid $server_pid)"

# --- tenants ----------------------------------------------------------------------------
login() {
  curl -sf -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"$1\",\"email\":\"$2\",\"password\":\"$3\"}" | jq -r .access_token
}
# A: the demo tenant (its credentials are on the server's first lines).
demo_line=$(grep -m1 'demo tenant' "$work/server.out")
demo_email=$(sed -E 's/.*log in as ([^ ]+) with password .*/\1/' <<<"$demo_line")
demo_password=$(sed -E 's/.* with password ([^ ]+).*/\1/' <<<"$demo_line")
token_a=$(login demo "$demo_email" "$demo_password")
# B: a tenant of its own with one customer.
password_b="tenant-b-password-0123456789"
curl -sf -X POST "$base/v1/operator/tenants" -H "authorization: Bearer $operator_token" \
  -H 'content-type: application/json' \
  -d "{\"name\":\"Tenant B\",\"slug\":\"tenant-b\",\"admin_email\":\"owner@b.test\",\"admin_password\":\"$password_b\"}" >/dev/null
token_b=$(login tenant-b owner@b.test "$password_b")
id=$(curl -sf -X POST "$base/v1/crm/customers" -H "authorization: Bearer $token_b" \
  -H 'content-type: application/json' -d '{"name":"Ada Lovelace","email":"ada@example.com"}' | jq -r .id)
url_b="$base/v1/crm/customers/$id"
curl -sf -H "authorization: Bearer $token_b" "$url_b" >/dev/null

# A routing problem big enough to use its whole budget: 80 jobs, 6 vehicles.
problem=$(jq -n --argjson budget "$BUDGET_MS" '
  [range(0; 81)] as $ids
  | {time_budget_ms: $budget, problem: {
      locations: [$ids[] | {x: ((. * 37) % 101 | tonumber), y: ((. * 53) % 97 | tonumber)}],
      travel: {kind: "euclidean", speed: 1.0},
      vehicles: [range(0; 6) | {id: "v\(.)", start_location: 0, shift: {start: 0.0, end: 2000.0}}],
      jobs: [range(1; 81) | {id: "j\(.)", location: ., service: 10.0}]}}')

# --- measurements -----------------------------------------------------------------------
to_ms() {
  awk '{ v = $1; u = v; sub(/^[0-9.]+/, "", u); sub(/[a-z]+$/, "", v);
         if (u == "us") v /= 1000; else if (u == "s") v *= 1000; else if (u == "m") v *= 60000;
         printf "%.2f", v }'
}
# measure_b NAME -> "rps p99" (the full wrk output in $work/NAME.txt)
measure_b() {
  local out
  out=$(wrk --latency -t "$THREADS" -c "$CONNECTIONS_B" -d "${DURATION}s" \
    -H "authorization: Bearer $token_b" "$url_b")
  printf '%s\n' "$out" >"$work/$1.txt"
  local errors
  errors=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  [ -z "$errors" ] || log "$1: $errors of B's responses were not 2xx"
  echo "$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out") $(awk '$1 == "99%" { print $2 }' <<<"$out" | to_ms)"
}

log "warm-up: B for 3 s"
wrk -t 1 -c "$CONNECTIONS_B" -d 3s -H "authorization: Bearer $token_b" "$url_b" >/dev/null

log "B idle: ${DURATION} s"
read -r idle_rps idle_p99 <<<"$(measure_b idle)"

log "B while A runs $SOLVES solves and a c$CONNECTIONS_A list flood"
load_for=$((DURATION + 2))
: >"$work/solves.txt"
for _ in $(seq 1 "$SOLVES"); do
  (
    end=$((SECONDS + load_for))
    while [ "$SECONDS" -lt "$end" ]; do
      code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 40 -X POST "$base/v1/routing/optimize" \
        -H "authorization: Bearer $token_a" -H 'content-type: application/json' -d "$problem" || echo 000)
      echo "$code" >>"$work/solves.txt"
      # A refused solve (429) retries after a second rather than spinning.
      [ "$code" = 201 ] || sleep 1
    done
  ) &
  load_pids+=($!)
done
wrk --latency -t 1 -c "$CONNECTIONS_A" -d "${load_for}s" -H "authorization: Bearer $token_a" \
  "$base/v1/crm/customers" >"$work/flood.txt" &
load_pids+=($!)
sleep 1
read -r load_rps load_p99 <<<"$(measure_b loaded)"
for pid in "${load_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
load_pids=()

solves=$(sort "$work/solves.txt" | uniq -c | awk '{ printf "%s%s x %s", sep, $1, $2; sep = ", " }')
flood=$(awk '/^Requests\/sec:/ { rps = $2 } /Non-2xx or 3xx responses:/ { bad = $NF }
             END { printf "%s req/s, %s not 2xx", rps, bad + 0 }' "$work/flood.txt")
ratio=$(awk -v l="$load_p99" -v i="$idle_p99" 'BEGIN { printf "%.2f", l / i }')

cat <<EOF
wrk $(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }'), B: $THREADS threads, $CONNECTIONS_B connections, ${DURATION} s per run; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end

| tenant B, GET /v1/crm/customers/{id} | req/s | p99 (ms) |
|---|---:|---:|
| idle | $(printf '%.0f' "$idle_rps") | $idle_p99 |
| A: $SOLVES solves (${BUDGET_MS} ms budget) + c$CONNECTIONS_A list flood | $(printf '%.0f' "$load_rps") | $load_p99 |

B's p99 under load / idle: ${ratio}x (goal: at most 1.5x)
A's solves answered: $solves; A's list flood: $flood
EOF
