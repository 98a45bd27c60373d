#!/usr/bin/env bash
# Installs the reference servers, tools and client libraries the tests and benchmarks use.
# Idempotent and quiet; needs root (apt-get) on Debian. Works on a fresh machine whose
# python refuses pip installs into the system environment (PEP 668).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq >/dev/null
    apt_updated=1
  fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# libmemcached-dev: pylibmc builds against it where no wheel fits; mariadb-server:
# examples/mysql-cache; gcc: the mlua crate compiles its vendored Lua 5.1; php-cli and
# php-redis (phpredis): compat.d/66-phpredis.sh runs phpredis's own tests; tcl-tls: Redis's
# suite in --tls mode (60-redis-suite.sh, with certificates from openssl); iproute2: the
# protected-mode tests give loopback a second address in a network namespace of their own;
# libsasl2-modules: the PLAIN plugin pylibmc's SASL client loads (compat.d/10-memcache.sh).
apt_pkgs=(memcached libmemcached-tools redis-server redis-tools nutcracker python3
  libmemcached-dev mariadb-server openssl gcc php-cli php-redis tcl-tls iproute2
  libsasl2-modules)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt_install "${missing[@]}"
fi

# memcached's own test suite (scripts/compat.d/50-memcached-suite.sh) comes from Debian's
# source package: apt-get source needs a deb-src entry and dpkg-dev; the suite needs perl.
for p in dpkg-dev perl xz-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || apt_install "$p"
done
if ! apt-cache showsrc memcached 2>/dev/null | grep -q '^Package: memcached'; then
  cat >/etc/apt/sources.list.d/slabd-debsrc.sources <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  apt-get update -qq >/dev/null
fi

# Debian's packages start their daemons on the default ports; the tests start their own on
# other ports, so stop the packaged services (by service, not by process name).
if [ ${#missing[@]} -gt 0 ]; then
  for svc in memcached redis-server nutcracker mariadb; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active -q "$svc" 2>/dev/null; then
      systemctl stop "$svc" >/dev/null 2>&1 || true
    elif [ -x "/etc/init.d/$svc" ]; then
      "/etc/init.d/$svc" stop >/dev/null 2>&1 || true
    fi
  done
fi

# prometheus_client's parser checks the metrics endpoint (compat.d/65-observability.sh).
if ! python3 -c 'import prometheus_client' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check --no-input prometheus_client >/dev/null 2>&1 ||
    python3 -m pip install -q --disable-pip-version-check --no-input --break-system-packages \
      prometheus_client >/dev/null 2>&1 || apt_install python3-prometheus-client
fi

# Python clients: pip first (current versions), then Debian's packages.
if ! python3 -c 'import pymemcache, redis, pylibmc, pymysql' 2>/dev/null; then
  pip_install() {
    python3 -m pip install -q --disable-pip-version-check --no-input "$@" pymemcache redis pylibmc pymysql \
      >/dev/null 2>&1
  }
  if ! python3 -m pip --version >/dev/null 2>&1; then
    apt_install python3-pip || true
  fi
  pip_install || pip_install --break-system-packages || apt_install python3-pymemcache python3-redis \
    python3-pylibmc python3-pymysql
  python3 -c 'import pymemcache, redis, pylibmc, pymysql' || {
    echo "install-deps: could not install the python clients pymemcache, redis, pylibmc, pymysql" >&2
    exit 1
  }
fi

# pytest: scripts/compat.d/65-redis-py-suite.sh runs redis-py's own tests with it.
if ! python3 -c 'import pytest' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check --no-input pytest >/dev/null 2>&1 ||
    python3 -m pip install -q --disable-pip-version-check --no-input --break-system-packages \
      pytest >/dev/null 2>&1 || apt_install python3-pytest
fi

# pytest-asyncio: scripts/compat.d/67-redis-py-pubsub.sh runs redis-py's asyncio Pub/Sub tests.
if ! python3 -c 'import pytest_asyncio' 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check --no-input pytest-asyncio >/dev/null 2>&1 ||
    python3 -m pip install -q --disable-pip-version-check --no-input --break-system-packages \
      pytest-asyncio >/dev/null 2>&1 || apt_install python3-pytest-asyncio
fi
