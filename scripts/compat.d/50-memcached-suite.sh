#!/usr/bin/env bash
# memcached 1.6.18's own test suite (t/*.t, perl) against slabd: every test file starts its
# own slabd with the flags the test asks for.
#
# The suite comes from Debian's source package (scripts/install-deps.sh adds the deb-src
# entry and dpkg-dev); MEMCACHED_SRC=/path/to/memcached-1.6.18 uses an unpacked tree instead.
# The harness (t/lib/MemcachedTest.pm) runs "$builddir/timedrun N $builddir/memcached-debug
# ARGS" with builddir = the current directory, so the suite runs from a scratch directory
# holding a link to t/ and two small stand-ins for those programs.
#
# Files run: those that pass against slabd (TESTS below). Excluded, one line each:
#   ssl_*.t, *extstore*.t, proxy.t, restart.t: TLS in memcached's -Z form, extstore, proxy,
#     restartable cache — machinery slabd does not have
#   binary-sasl.t: skips itself unless RUN_SASL_TESTS, then needs Cyrus SASL's sasldb
#     (SASL_CONF_PATH, saslpasswd2); slabd's SASL PLAIN reads MEMCACHED_SASL_PWDB instead
#   64bit.t: the T_MEMD_INITIAL_MALLOC debug hook (fakes total_malloced)
#   expirations.t: the debug build's `debugtime` command (moves the server clock)
#   flush-all.t: asserts memcached's imprecision with -C (a set in the flush second fails)
#   issue_22.t: slab class ids (slabd's smaller item header adds a class at the low end)
#   issue_42.t: mem_requested of 48-byte memcached item headers
#   issue_163.t, issue_183.t, lru.t: -o no_modern strict-LRU tail reclaim and order
#   lru-maintainer.t: segmented LRU (hot/warm/cold) internals, `number_temp` in stats items
#   slabs_reassign.t, slabs-reassign2.t, slabs-reassign-chunked.t: page-mover internals
#   whitespace.t: checks memcached's C sources, not the daemon
#   issue_140.t, issue_260.t, misbehave.t, refhang.t, slabhang.t: skip themselves
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="$(realpath "${SLABD:-$here/../../target/release/slabd}")"
export SLABD

TESTS=(00-startup ascii-auth binary binary-get udp issue_50 issue_67 stats-conns conn-limits lru-crawler
  bogus-commands cas chunked-items daemonize dash-M dyn-maxbytes evictions flags
  getandtouch getset idle-timeout incrdecr issue_104 issue_108 issue_14 issue_152 issue_192
  issue_29 issue_3 issue_41 issue_61 issue_68 issue_70 item_size_max line-lengths
  malicious-commands maxconns metaget multiversioning noreply quit shutdown stats stats-detail
  strtol-testing touch unixsocket watcher watcher_connid)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

src="${MEMCACHED_SRC:-}"
if [ -z "$src" ]; then
  (cd "$work" && apt-get source --download-only -qq memcached >/dev/null 2>&1) || {
    echo "apt-get source memcached failed (no deb-src entry? run scripts/install-deps.sh)" >&2
    exit 1
  }
  tar -C "$work" -xf "$work"/memcached_*.orig.tar.*
  src="$(ls -d "$work"/memcached-*/ | head -n1)"
fi
[ -f "$src/t/lib/MemcachedTest.pm" ] || { echo "no memcached test suite in $src" >&2; exit 1; }

run="$work/run"
mkdir -p "$run"
ln -s "$(realpath "$src/t")" "$run/t"
cat >"$run/timedrun" <<'EOF'
#!/bin/sh
# memcached's timedrun: run a command, interrupting it after N seconds.
secs=$1
shift
exec timeout -s INT "$secs" "$@"
EOF
cat >"$run/memcached-debug" <<'EOF'
#!/bin/bash
# The harness's flags go to slabd unchanged, except 1.6.18's `-o slab_chunk_max=BYTES`:
# memcached 1.6.24 reads kilobytes as slabd does, and rewrote these test files so
# (16384 -> 16, 1024 -> 1; commit 1b3b855).
args=()
for a in "$@"; do
  args+=("$(printf '%s' "$a" | perl -pe 's/slab_chunk_max=(\d+)/"slab_chunk_max=".($1 >= 1024 && $1 % 1024 == 0 ? $1 \/ 1024 : $1)/e')")
done
exec "$SLABD" "${args[@]}" 2>>"$SLABD_LOG"
EOF
chmod +x "$run/timedrun" "$run/memcached-debug"

files=()
for t in "${TESTS[@]}"; do files+=("t/$t.t"); done
export SLABD_LOG="$work/slabd.log"
cd "$run"
# Each file starts its own daemons; two at a time keeps the run near a minute on 2 cores.
if ! timeout 300 prove -j2 "${files[@]}"; then
  echo "slabd's stderr:" >&2
  tail -n 50 "$SLABD_LOG" >&2
  exit 1
fi
