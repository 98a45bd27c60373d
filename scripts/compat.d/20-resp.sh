#!/usr/bin/env bash
# RESP compatibility: redis-py, redis-cli (one-shot and --pipe) and redis-benchmark against
# slabd's --resp-port, plus cross-protocol reads and writes through the memcached port.
#
# With RESP_TARGET=redis the same checks run against redis-server instead (how the
# expectations were checked); the cross-protocol part is then skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
target="${RESP_TARGET:-slabd}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "20-resp: FAIL: $*" >&2; exit 1; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start NAME [extra args…]: starts a server; sets RESP_PORT and MC_PORT (slabd only).
start() {
  local name=$1; shift
  MC_PORT=""
  if [ "$target" = redis ]; then
    RESP_PORT=$(free_port)
    redis-server --port "$RESP_PORT" --bind 127.0.0.1 --save '' --appendonly no "$@" \
      >"$work/$name.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
      redis-cli -p "$RESP_PORT" ${REDISCLI_AUTH:+--no-auth-warning} ping >/dev/null 2>&1 && return
      sleep 0.1
    done
    fail "redis-server did not start"
  fi
  "$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -t 2 --dir "$work" "$@" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    if grep -qx ready "$work/$name.log"; then
      RESP_PORT=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/$name.log")
      MC_PORT=$(sed -n 's/^listening on tcp .*:\([0-9]*\)$/\1/p' "$work/$name.log" | head -1)
      return
    fi
    sleep 0.1
  done
  cat "$work/$name.log" >&2
  fail "slabd did not report ready"
}

# --- an open server -----------------------------------------------------------------------
start open
echo "20-resp: $target on resp port $RESP_PORT ${MC_PORT:+(memcached port $MC_PORT)}"
cli() { redis-cli -p "$RESP_PORT" "$@"; }
expect() { # expect WANT cmd…
  local want=$1; shift
  local got
  got=$(cli "$@" 2>&1)
  [ "$got" = "$want" ] || fail "redis-cli $* gave '$got', want '$want'"
}

python3 "$here/redis_py_check.py" "$RESP_PORT" ${MC_PORT:+--memcached-port "$MC_PORT"}

expect PONG ping
expect OK set cli:a hello
expect hello get cli:a
expect 6 append cli:a "!"
expect 'hello!' get cli:a
expect 1 exists cli:a
expect string type cli:a
expect 3 incrby cli:n 3
expect 1 del cli:a
expect '' get cli:a
expect "ERR unknown command 'nosuch', with args beginning with: 'x' " nosuch x
expect "ERR wrong number of arguments for 'get' command" get
expect "$(printf 'cli:n')" keys 'cli:*'

# A pipe of 1000 commands in the wire protocol, then check what it did.
python3 - "$work/pipe.txt" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    def cmd(*args):
        f.write(b"*%d\r\n" % len(args))
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            f.write(b"$%d\r\n%s\r\n" % (len(a), a))
    for i in range(500):
        cmd("SET", f"pipe:{i}", f"v{i}")
        cmd("INCR", "pipe:count")
PY
out=$(cli --pipe <"$work/pipe.txt")
echo "$out" | grep -q "errors: 0, replies: 1000" || fail "redis-cli --pipe: $out"
expect 500 get pipe:count
expect v499 get pipe:499

bench=$(redis-benchmark -h 127.0.0.1 -p "$RESP_PORT" -t ping,set,get,incr,mset -n 20000 -q 2>&1 \
  | tr '\r' '\n' | grep 'requests per second' || true)
echo "$bench"
for t in PING_INLINE PING_MBULK SET GET INCR MSET; do
  echo "$bench" | grep -q "^$t.*requests per second" || fail "redis-benchmark: no result for $t"
done
cli flushall >/dev/null

# --- a server with a password -------------------------------------------------------------
start auth --requirepass s3cret
python3 "$here/redis_py_check.py" "$RESP_PORT" --password s3cret
got=$(redis-cli -p "$RESP_PORT" get x 2>&1)
[ "$got" = "NOAUTH Authentication required." ] || fail "no password gave '$got'"
got=$(redis-cli -p "$RESP_PORT" -a s3cret --no-auth-warning set x 1 2>&1)
[ "$got" = OK ] || fail "with password gave '$got'"

echo "20-resp: all checks passed against $target"
