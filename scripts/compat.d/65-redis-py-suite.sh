#!/usr/bin/env bash
# redis-py's own tests/test_commands.py (from the sdist of the installed redis package,
# fetched with `pip download`) against slabd's --resp-port: every command family slabd has. Tests redis-py itself skips (newer Redis versions, cluster, modules)
# are counted and listed in the log as skipped.
set -euo pipefail
part=65-redis-py-suite
# shellcheck source=../compat.lib/redis-py-sdist.sh
source "$(dirname "$0")/../compat.lib/redis-py-sdist.sh"
[ -f "$src/tests/test_commands.py" ] || fail "no tests/test_commands.py in the redis sdist"

# The whole file but what slabd does not have, each named with its reason (counted as not
# passed in the totals):
#   streams (test_x*): not implemented (README);
#   modules (test_module*), replication (test_replicaof, test_psync): not implemented;
#   test_mset_on_cluster_multiple_slots: expects a cluster client;
#   test_config_set_multi_params: sets maxmemory to 100 bytes (slabd's floor is 8 MB of
#     whole slab pages);
#   test_acl_getuser_setuser: expects Redis 7.2's ACL GETUSER rule order and `-@geo` kept;
#     redis-server 7.0.15 fails it the same way.
deselect='not test_x and not test_module and not test_replicaof'
deselect+=' and not test_psync and not test_mset_on_cluster_multiple_slots'
deselect+=' and not test_config_set_multi_params and not test_acl_getuser_setuser'
if (cd "$src" && python3 -m pytest tests/test_commands.py -q -p no:cacheprovider -W ignore -rs \
  --redis-url="redis://127.0.0.1:$port" -m 'not onlycluster' -k "$deselect") >"$work/pytest.log" 2>&1; then
  status=ok
else
  status=FAILED
fi
summary="$(grep -E '^[0-9]+ (passed|failed)|passed|failed' "$work/pytest.log" | tail -1)"
echo "65-redis-py-suite: redis-py $version test_commands.py (all but streams, modules, replication; see the script): $status: $summary"
if [ "$status" != ok ]; then
  grep -E '^(FAILED|ERROR)' "$work/pytest.log" | head -30 | sed 's/^/    /'
  fail "redis-py tests failed"
fi
