#!/usr/bin/env bash
# Pub/Sub, keyspace notifications, client-side caching, MONITOR and SLOWLOG through redis-py,
# and the Prometheus endpoint (--metrics-port) through prometheus_client's parser.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "65-observability: FAIL: $*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
metrics=$(free_port)
"$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -t 2 --metrics-port "$metrics" >/dev/null 2>"$work/log" &
pid=$!
for _ in $(seq 100); do grep -qx ready "$work/log" && break; sleep 0.1; done
grep -qx ready "$work/log" || { cat "$work/log" >&2; fail "slabd did not start"; }
resp=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/log")
mc=$(sed -n 's/^listening on tcp .*:\([0-9]*\)$/\1/p' "$work/log" | head -1)
grep -q "^listening on metrics 127.0.0.1:$metrics$" "$work/log" || fail "no metrics listener line"
python3 "$here/observability_check.py" "$resp" "$mc" "$metrics"
