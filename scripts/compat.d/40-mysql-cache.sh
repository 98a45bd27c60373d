#!/usr/bin/env bash
# examples/mysql-cache against a real MariaDB: the first query reaches MariaDB, the
# second is served by the cache, an update invalidates, rows by id come in one multi-get,
# a TTL expires; prints both paths' latency. The cache is $SLABD, or memcached with
# COMPAT_SERVER=memcached. The demo starts and removes its own MariaDB.
set -euo pipefail
cd "$(dirname "$0")/../.."
SLABD="${SLABD:-$PWD/target/release/slabd}"
tmp=$(mktemp -d)
cache_pid=""
cleanup() {
  [ -n "$cache_pid" ] && kill "$cache_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

if [ "${COMPAT_SERVER:-slabd}" = memcached ]; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  memcached -u "$(id -un)" -p "$port" -l 127.0.0.1 -U 0 -m 64 >"$tmp/cache.log" 2>&1 &
  cache_pid=$!
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
else
  "$SLABD" -p -1 -l 127.0.0.1 -m 64 2>"$tmp/cache.log" &
  cache_pid=$!
  for _ in $(seq 200); do
    grep -qx ready "$tmp/cache.log" && break
    kill -0 "$cache_pid" 2>/dev/null || { cat "$tmp/cache.log"; exit 1; }
    sleep 0.1
  done
  port=$(sed -n 's/^listening on tcp .*:\([0-9]*\)$/\1/p' "$tmp/cache.log" | head -1)
  [ -n "$port" ] || { echo "slabd did not report its port"; cat "$tmp/cache.log"; exit 1; }
fi

python3 examples/mysql-cache/demo.py --cache "127.0.0.1:$port"
