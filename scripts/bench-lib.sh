# Shared by the benchmark scripts (sourced, not run): waiting for a server they started.

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
