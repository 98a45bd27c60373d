#!/usr/bin/env bash
# Installs the reference servers, tools and client libraries the tests and benchmarks use.
# Idempotent; needs root (apt-get) on Debian.
set -euo pipefail

# libmemcached-dev: pylibmc builds against it; mariadb-server: examples/mysql-cache.
apt_pkgs=(memcached libmemcached-tools redis-server redis-tools nutcracker libmemcached-dev mariadb-server)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's packages may start their daemons; the tests start their own on other ports.
pkill -x memcached 2>/dev/null || true
pkill -x redis-server 2>/dev/null || true
pkill -x nutcracker 2>/dev/null || true

python3 -m pip install -q --disable-pip-version-check pymemcache redis pylibmc pymysql
