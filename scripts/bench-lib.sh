# Shared by the benchmark scripts (sourced, not run): starting and stopping a server on an
# embedded PostgreSQL, creating tenants, and the path an uploaded module takes to a tenant
# (upload, conformance, consent and bind). The callers set VEROFIELD_BIN.

log() { printf '%s\n' "$*" >&2; }

# need_tools: installs wrk when it is missing; curl and jq must be there.
need_tools() {
  if ! command -v wrk >/dev/null; then
    log "installing wrk"
    if [ "$(id -u)" = 0 ]; then apt-get install -y wrk >&2; else sudo apt-get install -y wrk >&2; fi
  fi
  local tool
  for tool in curl jq; do
    command -v "$tool" >/dev/null || { log "$tool is required"; exit 1; }
  done
}

# wait_for_listening OUT_FILE ERR_FILE PID -> prints the server's base URL once its
# `verofield listening on http://ADDR` line is in OUT_FILE; fails (with the server's last
# log lines) if it exits first or has not started within 180 s.
wait_for_listening() {
  local out=$1 err=$2 pid=$3 base=""
  for _ in $(seq 1 360); do
    base=$(grep -o 'verofield listening on http://[0-9.:]*' "$out" 2>/dev/null | sed 's/.* on //' || true)
    [ -n "$base" ] && { printf '%s\n' "$base"; return 0; }
    kill -0 "$pid" 2>/dev/null || { printf 'the server exited:\n' >&2; tail -n 30 "$err" >&2; return 1; }
    sleep 0.5
  done
  printf 'the server did not start within 180 s\n' >&2
  return 1
}

# start_server WORK MODULES [SERVE_ARGS...]: starts $VEROFIELD_BIN on an embedded PostgreSQL
# in a fresh WORK/data (or on DATABASE_URL when set: give it an empty database), publishing
# the components in MODULES as built-ins, and waits until it listens. Sets server_pid, base
# (its URL), operator_token and server_work (logs in WORK/server.{out,err}). Call it
# directly, not in $(...): the server must be a child of the script, for stop_server.
start_server() {
  server_work=$1
  local modules=$2
  shift 2
  mkdir -p "$server_work/data"
  # The embedded PostgreSQL runs as `postgres` when we are root: it must reach the data dir.
  if [ "$(id -u)" = 0 ] && [ -z "${DATABASE_URL:-}" ]; then
    local dir="$server_work/data"
    while [ "$dir" != / ]; do chmod o+x "$dir"; dir=$(dirname "$dir"); done
  fi
  operator_token=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  VEROFIELD_OPERATOR_TOKEN="$operator_token" "$VEROFIELD_BIN" --data-dir "$server_work/data" serve \
    --listen 127.0.0.1:0 --builtin-modules "$modules" --access-token-ttl-secs 3600 "$@" \
    >"$server_work/server.out" 2>"$server_work/server.err" &
  server_pid=$!
  base=$(wait_for_listening "$server_work/server.out" "$server_work/server.err" "$server_pid")
  log "server at $base (pid $server_pid, data $server_work/data)"
}

# stop_server: stops the server start_server started (gracefully: it drains, then stops its
# embedded PostgreSQL), then removes the cluster (~100 MB); logs and outputs stay. Does
# nothing when no server runs, so it may be the EXIT trap.
stop_server() {
  [ -n "${server_pid:-}" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  if [ -z "${DATABASE_URL:-}" ] && [ ! -f "$server_work/data/pg/data/postmaster.pid" ]; then
    rm -rf "$server_work/data"
  fi
  log "server log: $server_work/server.err"
  server_pid=""
}

BENCH_PASSWORD="bench-password-0123456789"

# create_tenant SLUG -> the owner's access token of a new tenant (created by the operator).
create_tenant() {
  curl -sf -X POST "$base/v1/operator/tenants" \
    -H "authorization: Bearer $operator_token" -H 'content-type: application/json' \
    -d "{\"name\":\"Benchmark\",\"slug\":\"$1\",\"admin_email\":\"owner@$1.test\",\"admin_password\":\"$BENCH_PASSWORD\"}" \
    >/dev/null
  curl -sf -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"$1\",\"email\":\"owner@$1.test\",\"password\":\"$BENCH_PASSWORD\"}" | jq -r .access_token
}

# upload_module WASM TENANT_SLUG -> the upload's answer (JSON: digest, name, version,
# validation with the compile's `load_ms`): the operator uploads the component and shares it
# with the tenant in the same request.
upload_module() {
  curl -sf -X POST "$base/v1/operator/modules?share=$2" \
    -H "authorization: Bearer $operator_token" -H 'content-type: application/wasm' \
    --data-binary "@$1"
}

# wait_for_conformance DIGEST -> the status its conformance run ended with (`passed`,
# `failed`, `not_applicable`, ...), polled every 50 ms for at most 10 minutes.
wait_for_conformance() {
  local status=""
  for _ in $(seq 1 12000); do
    status=$(curl -sf -H "authorization: Bearer $operator_token" \
      "$base/v1/operator/modules/$1/conformance" | jq -r .status)
    [ "$status" = pending ] || { printf '%s\n' "$status"; return 0; }
    sleep 0.05
  done
  log "the conformance run of $1 did not end"
  return 1
}

# consent_and_bind TOKEN SLOT NAME VERSION: what a tenant admin does, with the tenant's
# token: reads the version's detail and binds the slot to it, accepting exactly the grants
# shown.
consent_and_bind() {
  local grants
  grants=$(curl -sf -H "authorization: Bearer $1" "$base/v1/modules/$3/$4" | jq -c .grants)
  curl -sf -X PUT "$base/v1/tenant/modules/$2" -H "authorization: Bearer $1" \
    -H 'content-type: application/json' \
    -d "{\"version\":\"$3@$4\",\"accept\":$grants}" >/dev/null
}
