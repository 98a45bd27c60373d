#!/usr/bin/env bash
# redis-py's own tests for hashes, sets, lists, sorted sets, SORT, TYPE, OBJECT and COPY (tests/test_commands.py
# from the sdist of the installed redis package, fetched with `pip download`) against
# slabd's --resp-port. Tests redis-py itself skips (newer Redis versions, cluster, modules)
# are counted and listed in the log as skipped.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "65-redis-py-suite: FAIL: $*" >&2; exit 1; }

python3 -c 'import pytest' 2>/dev/null || fail "pytest is missing (scripts/install-deps.sh)"
version="$(python3 -c 'import redis; print(redis.__version__)')"
python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "redis==$version" -d "$work" >/dev/null 2>&1 || fail "pip download redis==$version"
tar -xzf "$work"/redis-*.tar.gz -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'redis-*' | head -1)"
[ -f "$src/tests/test_commands.py" ] || fail "no tests/test_commands.py in the redis sdist"

"$SLABD" -p 0 -l 127.0.0.1 --resp-port 0 -m 256 >/dev/null 2>"$work/slabd.log" &
pid=$!
for _ in $(seq 100); do
  grep -qx ready "$work/slabd.log" && break
  sleep 0.1
done
grep -qx ready "$work/slabd.log" || fail "slabd did not start"
port=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")

# Hash (test_h*), set and SORT (test_s*), TYPE (test_type), OBJECT and COPY tests.
select='test_h or test_s or test_object or test_copy or test_type'
# Lists (and blocking pops) and sorted sets.
select+=' or test_lmove or test_blmove or test_blpop or test_brpop or test_brpoplpush'
select+=' or test_blmpop or test_lmpop or test_lindex or test_linsert or test_llen or test_lpop'
select+=' or test_lpush or test_lrange or test_lrem or test_lset or test_ltrim or test_rpop'
select+=' or test_rpush or test_lpos or test_lists_with or test_binary_lists or test_z or test_bz'
if (cd "$src" && python3 -m pytest tests/test_commands.py -q -p no:cacheprovider -W ignore -rs \
  --redis-url="redis://127.0.0.1:$port" -k "$select") >"$work/pytest.log" 2>&1; then
  status=ok
else
  status=FAILED
fi
summary="$(grep -E '^[0-9]+ (passed|failed)|passed|failed' "$work/pytest.log" | tail -1)"
echo "65-redis-py-suite: redis-py $version test_commands.py (hashes, sets, lists, sorted sets, SORT, TYPE, OBJECT, COPY): $status: $summary"
if [ "$status" != ok ]; then
  grep -E '^(FAILED|ERROR)' "$work/pytest.log" | head -30 | sed 's/^/    /'
  fail "redis-py tests failed"
fi
