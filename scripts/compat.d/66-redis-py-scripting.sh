#!/usr/bin/env bash
# redis-py's own Lock, scripting and functions tests (tests/test_lock.py, test_scripting.py,
# test_function.py from the sdist of the installed redis package, fetched with
# `pip download`) against slabd's --resp-port. Not run: tests marked `onlycluster`
# (redis-py's own CI deselects them against a standalone server the same way).
set -euo pipefail
part=66-redis-py-scripting
# shellcheck source=../compat.lib/redis-py-sdist.sh
source "$(dirname "$0")/../compat.lib/redis-py-sdist.sh"
files=()
for f in test_lock.py test_scripting.py test_function.py; do
  [ -f "$src/tests/$f" ] && files+=("tests/$f")
done
[ "${#files[@]}" -gt 0 ] || fail "no lock/scripting tests in the redis sdist"

if (cd "$src" && python3 -m pytest "${files[@]}" -q -p no:cacheprovider -W ignore \
  -m 'not onlycluster' --redis-url="redis://127.0.0.1:$port") >"$work/pytest.log" 2>&1; then
  status=ok
else
  status=FAILED
fi
summary="$(grep -E '[0-9]+ (passed|failed)' "$work/pytest.log" | tail -1)"
echo "66-redis-py-scripting: redis-py $version ${files[*]}: $status: $summary"
if [ "$status" != ok ]; then
  grep -E '^(FAILED|ERROR)' "$work/pytest.log" | head -30 | sed 's/^/    /'
  fail "redis-py tests failed"
fi
