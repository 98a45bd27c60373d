#!/usr/bin/env bash
# redis-py's own tests for hashes, sets, lists, sorted sets, SORT, TYPE, OBJECT and COPY (tests/test_commands.py
# from the sdist of the installed redis package, fetched with `pip download`) against
# slabd's --resp-port. Tests redis-py itself skips (newer Redis versions, cluster, modules)
# are counted and listed in the log as skipped.
set -euo pipefail
part=65-redis-py-suite
# shellcheck source=../compat.lib/redis-py-sdist.sh
source "$(dirname "$0")/../compat.lib/redis-py-sdist.sh"
[ -f "$src/tests/test_commands.py" ] || fail "no tests/test_commands.py in the redis sdist"

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
