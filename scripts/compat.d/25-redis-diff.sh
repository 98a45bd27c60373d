#!/usr/bin/env bash
# Differential check: the same HyperLogLog, BITFIELD, bit and LCS commands run on slabd and
# on redis-server; every reply (raw HLL values included) must be identical. Then COMMAND
# INFO and COMMAND DOCS of every command and subcommand slabd lists, in RESP2 and RESP3,
# and which of them a script may call.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "25-redis-diff: FAIL: $*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  >"$work/redis.log" 2>&1 &
pids+=($!)
"$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -t 2 --dir "$work" 2>"$work/slabd.log" &
pids+=($!)
for _ in $(seq 100); do
  grep -qx ready "$work/slabd.log" && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
grep -qx ready "$work/slabd.log" || fail "slabd did not start"
slabd_port=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")
python3 "$here/redis_diff_check.py" "$slabd_port" "$redis_port" || fail "replies differ"
python3 "$here/command_docs_check.py" "$slabd_port" "$redis_port" || fail "COMMAND INFO/DOCS differ"
python3 "$here/script_deny_check.py" "$slabd_port" "$redis_port" || fail "scripts may call other commands"
