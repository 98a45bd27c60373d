#!/usr/bin/env bash
# redis-py's own Lock, scripting and functions tests (tests/test_lock.py, test_scripting.py,
# test_function.py from the sdist of the installed redis package, fetched with
# `pip download`) against slabd's --resp-port. Not run: tests marked `onlycluster`
# (redis-py's own CI deselects them against a standalone server the same way).
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
fail() { echo "66-redis-py-scripting: FAIL: $*" >&2; exit 1; }

python3 -c 'import pytest' 2>/dev/null || fail "pytest is missing (scripts/install-deps.sh)"
version="$(python3 -c 'import redis; print(redis.__version__)')"
python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "redis==$version" -d "$work" >/dev/null 2>&1 || fail "pip download redis==$version"
tar -xzf "$work"/redis-*.tar.gz -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'redis-*' | head -1)"
files=()
for f in test_lock.py test_scripting.py test_function.py; do
  [ -f "$src/tests/$f" ] && files+=("tests/$f")
done
[ "${#files[@]}" -gt 0 ] || fail "no lock/scripting tests in the redis sdist"

"$SLABD" -p 0 -l 127.0.0.1 --resp-port 0 -m 256 >/dev/null 2>"$work/slabd.log" &
pid=$!
for _ in $(seq 100); do
  grep -qx ready "$work/slabd.log" && break
  sleep 0.1
done
grep -qx ready "$work/slabd.log" || fail "slabd did not start"
port=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")

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
