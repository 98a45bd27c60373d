#!/usr/bin/env bash
# redis-py's own Pub/Sub tests (tests/test_pubsub.py over RESP2 and over RESP3, and
# tests/test_asyncio/test_pubsub.py, from the sdist of the installed redis package) against
# slabd's --resp-port. The three runs are independent and share channel names, so each gets
# its own slabd and they run side by side (most of their time is sleeps and timeouts).
# Not run: tests marked `onlycluster` (redis-py's own CI deselects them against a
# standalone server the same way); they are counted as not passed in the totals line.
set -euo pipefail
part=67-redis-py-pubsub
# shellcheck source=../compat.lib/redis-py-sdist.sh
source "$(dirname "$0")/../compat.lib/redis-py-sdist.sh"
[ -f "$src/tests/test_pubsub.py" ] || fail "no tests/test_pubsub.py in the redis sdist"
python3 -c 'import pytest_asyncio' 2>/dev/null || fail "pytest-asyncio is missing (scripts/install-deps.sh)"

# Two more servers beside the one the shared start-up gave us.
extra=()
cleanup_extra() {
  for p in "${extra[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${extra[@]}"; do wait "$p" 2>/dev/null || true; done
  cleanup
}
trap cleanup_extra EXIT
start_extra() { # $1: name; prints the port
  "$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -m 64 --dir "$work" >/dev/null 2>"$work/slabd-$1.log" &
  extra+=($!)
}
start_extra resp3
start_extra async
ports=("$port")
for name in resp3 async; do
  for _ in $(seq 100); do
    grep -qx ready "$work/slabd-$name.log" && break
    sleep 0.1
  done
  grep -qx ready "$work/slabd-$name.log" || fail "slabd ($name) did not start"
  ports+=("$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd-$name.log")")
done

run() { # $1: name, $2: port, rest: pytest arguments
  local name=$1 p=$2
  shift 2
  (cd "$src" && python3 -m pytest "$@" -q -p no:cacheprovider -W ignore -rs -m 'not onlycluster' \
    --redis-url="redis://127.0.0.1:$p") >"$work/pytest-$name.log" 2>&1
}
run resp2 "${ports[0]}" tests/test_pubsub.py &
p1=$!
run resp3 "${ports[1]}" tests/test_pubsub.py --protocol=3 &
p2=$!
run async "${ports[2]}" tests/test_asyncio/test_pubsub.py &
p3=$!
status=ok
wait "$p1" || status=FAILED
wait "$p2" || status=FAILED
wait "$p3" || status=FAILED

for name in resp2 resp3 async; do
  summary="$(grep -E '[0-9]+ (passed|failed)' "$work/pytest-$name.log" | tail -1)"
  echo "67-redis-py-pubsub: redis-py $version $name: $summary"
  grep -E '^(FAILED|ERROR|SKIPPED)' "$work/pytest-$name.log" | head -30 | sed 's/^/    /' || true
done
[ "$status" = ok ] || fail "redis-py pubsub tests failed"
