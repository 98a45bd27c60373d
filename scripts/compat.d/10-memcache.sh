#!/usr/bin/env bash
# memcached protocol compatibility: libmemcached's memccapable (ascii and binary tests) and
# pymemcache (a script, and pymemcache's own integration tests), against a release slabd on
# a free loopback port.
#
# COMPAT_SERVER=memcached runs the same checks against the real memcached, to check the
# checks themselves.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
server="${COMPAT_SERVER:-slabd}"

work="$(mktemp -d)"
pid=""
cleanup() {
  if [ -n "$pid" ]; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ "$server" = memcached ]; then
  port="$(free_port)"
  memcached -U 0 -l 127.0.0.1 -p "$port" -t 2 -u nobody 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 100); do
    python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.1)" 2>/dev/null && break
    sleep 0.05
  done
else
  "$SLABD" -p -1 -l 127.0.0.1 -t 2 2>"$work/server.log" &
  pid=$!
  for _ in $(seq 200); do
    grep -qx ready "$work/server.log" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.05
  done
  port="$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/server.log" | head -n1)"
fi
[ -n "$port" ] || { echo "no port reported" >&2; cat "$work/server.log" >&2; exit 1; }
echo "$server on 127.0.0.1:$port"

status=0
if memccapable -h 127.0.0.1 -p "$port" -a >"$work/memccapable.out" 2>&1 \
  && grep -qx "All tests passed" "$work/memccapable.out"; then
  echo "memccapable -a: all tests passed"
else
  echo "memccapable -a FAILED:" >&2
  grep -v '\[pass\]' "$work/memccapable.out" >&2 || true
  status=1
fi

if memccapable -h 127.0.0.1 -p "$port" -b >"$work/memccapable-b.out" 2>&1 \
  && grep -q "All tests passed" "$work/memccapable-b.out"; then
  echo "memccapable -b: all tests passed"
else
  echo "memccapable -b FAILED:" >&2
  grep -v '\[pass\]' "$work/memccapable-b.out" >&2 || true
  status=1
fi

# libmemcached in binary mode.
if python3 "$here/pylibmc_binary_check.py" 127.0.0.1 "$port"; then
  :
else
  echo "pylibmc binary FAILED" >&2
  status=1
fi

# libmemcached in binary mode with SASL PLAIN, against a second slabd started with -S and a
# MEMCACHED_SASL_PWDB file. The pylibmc wheel bundles its own libsasl2, which looks for its
# mechanism plugins where the wheel was built; SASL_PATH points it at Debian's
# (libsasl2-modules), without which it has no PLAIN and gives up before SASL_AUTH. Debian's
# memcached needs a Cyrus SASL configuration to start with -S ("Error initializing sasl"), so
# this part runs against slabd only.
if [ "$server" = slabd ]; then
  printf 'compat:s3cret\n' >"$work/sasl-pwdb"
  MEMCACHED_SASL_PWDB="$work/sasl-pwdb" "$SLABD" -p -1 -U 0 -l 127.0.0.1 -t 2 -S \
    2>"$work/sasl-server.log" &
  sasl_pid=$!
  for _ in $(seq 200); do
    grep -qx ready "$work/sasl-server.log" 2>/dev/null && break
    sleep 0.05
  done
  sasl_port="$(sed -n 's/^listening on tcp 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$work/sasl-server.log" | head -n1)"
  sasl_dir=/usr/lib/x86_64-linux-gnu/sasl2
  [ -d "$sasl_dir" ] || sasl_dir="$(dirname "$(find /usr/lib -name 'libplain.so*' 2>/dev/null | head -n1)")"
  if [ -n "$sasl_port" ] && SASL_PATH="$sasl_dir" \
    python3 "$here/pylibmc_binary_check.py" 127.0.0.1 "$port" "$sasl_port" compat s3cret; then
    :
  else
    echo "pylibmc binary with SASL FAILED" >&2
    cat "$work/sasl-server.log" >&2
    status=1
  fi
  kill "$sasl_pid" 2>/dev/null || true
  wait "$sasl_pid" 2>/dev/null || true
fi

if python3 "$here/pymemcache_check.py" 127.0.0.1 "$port"; then
  echo "pymemcache: ok"
else
  echo "pymemcache FAILED" >&2
  status=1
fi

# pymemcache's own integration tests (test_integration.py, shipped inside the installed
# package with its conftest.py): every client class (Client, PooledClient, HashClient), both
# key-prefix forms, serde, large values, `stats cachedump`. Its test_tls is skipped by
# pymemcache itself (pinterest/pymemcache#39) and counts as not passed.
pymc_tests="$(python3 -c 'import os, pymemcache; print(os.path.join(os.path.dirname(pymemcache.__file__), "test"))')"
if (cd "$work" && python3 -m pytest "$pymc_tests/test_integration.py" -q -p no:cacheprovider -W ignore \
  -rs --server 127.0.0.1 --port "$port" >"$work/pymemcache-suite.out" 2>&1); then
  echo "pymemcache's own integration tests: $(tail -n1 "$work/pymemcache-suite.out")"
else
  echo "pymemcache's own integration tests FAILED:" >&2
  tail -n 40 "$work/pymemcache-suite.out" >&2
  status=1
fi

kill -0 "$pid" 2>/dev/null || { echo "$server died" >&2; cat "$work/server.log" >&2; status=1; }
exit $status
