#!/usr/bin/env bash
# redis-py's own tests of its client machinery against slabd's --resp-port (from the sdist
# of the installed redis package, fetched with `pip download`): connection pools (with
# the LOADING/READONLY/OOM replies faked by DEBUG ERROR), pipelines, encodings, MONITOR,
# keyspace notifications, client-side caching (RESP3 tracking), multiprocessing.
# Deselected, with reasons: tests marked onlycluster (as redis-py's CI deselects them
# against a standalone server), and three test_connection.py tests that connect to
# localhost:6379 whatever --redis-url says.
set -euo pipefail
part=68-redis-py-clients
SLABD_ARGS="--enable-debug-command yes"
# shellcheck source=../compat.lib/redis-py-sdist.sh
source "$(dirname "$0")/../compat.lib/redis-py-sdist.sh"
files=()
for f in test_connection_pool.py test_connection.py test_pipeline.py test_encoding.py \
  test_monitor.py test_keyspace_notifications.py test_cache.py test_client.py \
  test_multiprocessing.py; do
  [ -f "$src/tests/$f" ] && files+=("tests/$f")
done
[ "${#files[@]}" -gt 0 ] || fail "no client tests in the redis sdist"
deselect='not test_retry_connect_on_timeout_error and not test_connect_with_retries'
deselect+=' and not test_create_single_connection_client_from_url'

if (cd "$src" && python3 -m pytest "${files[@]}" -q -p no:cacheprovider -W ignore -rs \
  -m 'not onlycluster' -k "$deselect" --redis-url="redis://127.0.0.1:$port") \
  >"$work/pytest.log" 2>&1; then
  status=ok
else
  status=FAILED
fi
summary="$(grep -E '[0-9]+ (passed|failed)' "$work/pytest.log" | tail -1)"
echo "$part: redis-py $version ${files[*]}: $status: $summary"
if [ "$status" != ok ]; then
  grep -E '^(FAILED|ERROR)' "$work/pytest.log" | head -30 | sed 's/^/    /'
  fail "redis-py tests failed"
fi
