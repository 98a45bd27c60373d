#!/usr/bin/env bash
# phpredis (Debian's php-redis extension) against slabd's --resp-port: phpredis's own test
# suite, Redis_Test from tests/RedisTest.php of the php-redis source package (fetched with
# `apt-get source`), run test by test by phpredis_suite.php: strings, bits, keys and expiry,
# hashes, lists and blocking pops, sets, sorted sets, SORT, MULTI/EXEC, pipelines, pub/sub,
# Lua, HyperLogLog, SCAN, serializers and compression, sessions (php children over the
# session handler), ACL. phpredis.skips lists the tests not run, each with its reason.
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
fail() { echo "66-phpredis: FAIL: $*" >&2; exit 1; }

command -v php >/dev/null 2>&1 || fail "php is missing (scripts/install-deps.sh installs php-cli)"
php -r 'exit(extension_loaded("redis") ? 0 : 1);' || fail "the redis extension is missing (php-redis)"
version="$(php -r 'echo phpversion("redis");')"

(cd "$work" && apt-get source --download-only php-redis >/dev/null 2>&1) ||
  fail "apt-get source --download-only php-redis (needs the deb-src entry install-deps.sh adds)"
tar -xJf "$work"/php-redis_*.orig.tar.xz -C "$work"
tests="$work/redis-$version/tests"
[ -f "$tests/RedisTest.php" ] || fail "no redis-$version/tests/RedisTest.php in the php-redis source"

"$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -m 256 --dir "$work" >/dev/null 2>"$work/slabd.log" &
pid=$!
for _ in $(seq 100); do
  grep -qx ready "$work/slabd.log" && break
  sleep 0.1
done
grep -qx ready "$work/slabd.log" || fail "slabd did not start"
port=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")

# The session tests start php children; TEST_PHP_ARGS makes them use the installed
# extension (by default they look for a locally built modules/redis.so).
if TEST_PHP_ARGS="-d display_errors=0" php "$here/phpredis_suite.php" "$tests" 127.0.0.1 "$port" \
  "$here/phpredis.skips" >"$work/php.log" 2>&1; then
  status=ok
else
  status=FAILED
fi
kill -0 "$pid" 2>/dev/null || status="FAILED (slabd exited)"
echo "66-phpredis: phpredis $version Redis_Test: $status: $(tail -n 1 "$work/php.log")"
if [ "$status" != ok ]; then
  grep -E '^\[err\]' "$work/php.log" | head -30 | cut -c1-300 | sed 's/^/    /'
  tail -n 5 "$work/php.log" | sed 's/^/    /'
  fail "phpredis tests failed"
fi
