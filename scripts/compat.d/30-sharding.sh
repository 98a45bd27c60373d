#!/usr/bin/env bash
# Sharding: twemproxy (one memcache pool, one redis pool, ketama) in front of three
# $SLABD instances, and client-side ketama/rendezvous hashing with pylibmc and
# pymemcache. COMPAT_SERVER=memcached runs the same checks against memcached and
# redis-server. The python script ends every process it starts.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec python3 scripts/compat.d/sharding_check.py
