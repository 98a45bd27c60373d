#!/usr/bin/env bash
# Redis 7.0's own test suite (tests/unit/*.tcl from Debian bookworm's redis source package)
# run against slabd's RESP port in the suite's external-server mode, each unit against a
# fresh slabd of its own, REDIS_SUITE_JOBS (2) units at a time. Every test of the units in
# redis-suite/ must pass, except those their .skips file lists, each with its reason.
#
# REDIS_SUITE_DIR=/path/to/redis-7.0.x uses an unpacked source tree instead of fetching one.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
cleanup() {
  local p
  for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
  for p in $(cat "$work"/pid.* 2>/dev/null); do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "60-redis-suite: FAIL: $*" >&2; exit 1; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# --- the suite ------------------------------------------------------------------------------
if ! command -v tclsh8.6 >/dev/null 2>&1 && ! command -v tclsh8.7 >/dev/null 2>&1; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    tcl8.6 >/dev/null
fi
if [ -n "${REDIS_SUITE_DIR:-}" ]; then
  src="$REDIS_SUITE_DIR"
else
  # A fresh Debian has no deb-src entry: add bookworm main's, as debsrc.sources here has it.
  if ! grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    as_root tee /etc/apt/sources.list.d/debsrc.sources >/dev/null <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    as_root apt-get update -qq >/dev/null
  fi
  mkdir "$work/deb"
  (cd "$work/deb" && apt-get source --download-only redis >/dev/null 2>&1) ||
    fail "apt-get source --download-only redis"
  # The upstream tarball: the suite exactly as Redis ships it (Debian's patches are for
  # the build, and dpkg-source is not needed to read it).
  tar -xzf "$work"/deb/redis_*.orig.tar.gz -C "$work/deb"
  src="$(find "$work/deb" -maxdepth 1 -type d -name 'redis-*' | head -1)"
fi
[ -x "$src/runtest" ] && [ -d "$src/tests/unit" ] || fail "no redis test suite in $src"
suite="$work/suite"
mkdir -p "$suite/src"
cp -r "$src/runtest" "$src/tests" "$suite/"
# integration/redis-cli and redis-benchmark run src/redis-cli and src/redis-benchmark:
# the installed redis-tools 7.0 (scripts/install-deps.sh).
for tool in redis-cli redis-benchmark; do
  if command -v "$tool" >/dev/null 2>&1; then ln -s "$(command -v "$tool")" "$suite/src/$tool"; fi
done
version="$(sed -n 's/^#define REDIS_VERSION "\(.*\)"/\1/p' "$src/src/version.h" 2>/dev/null || true)"

# External mode starts every file with `r function flush`; slabd has no scripting, so the
# harness may not stop on that (one line of the harness, no test, is changed).
sed -i 's/^\( *\)r function flush$/\1catch {r function flush}/' "$suite/tests/support/server.tcl"
grep -q 'catch {r function flush}' "$suite/tests/support/server.tcl" ||
  fail "the harness no longer starts files with 'r function flush'; check the patch"

# Units named unit.X@tls.skips run in the suite's --tls mode: the harness connects with
# TLS using certificates made by Redis's utils/gen-test-certs.sh (openssl), and slabd
# serves a tls-port with them (tls-auth-clients yes, as Redis's default).
if ls "$here"/redis-suite/*@tls.skips >/dev/null 2>&1; then
  mkdir -p "$suite/tests/tls"
  # redis.dh is for OpenSSL's DH suites, which slabd (rustls) has none of: skip the slow
  # dhparam generation.
  touch "$suite/tests/tls/redis.dh"
  (cd "$suite" && bash "$src/utils/gen-test-certs.sh") >/dev/null 2>&1 ||
    fail "utils/gen-test-certs.sh (needs openssl)"
fi

# --- what is not run ------------------------------------------------------------------------
# Tags: tests that need DEBUG, replication, or a tiny maxmemory.
tags=(--tags -needs:debug --tags -needs:repl --tags -needs:config-maxmemory)

# Units run: one file per unit in redis-suite/ (unit/type/hash -> unit.type.hash.skips).
# Each line of it is a test not run, "test name  # reason" (a leading / makes the name a
# regexp, as the suite's --skiptest); "@flags ARGS" adds slabd flags for that unit and
# "@tags TAG..." adds --tags arguments; "@own-servers" runs the unit the way Redis's CI
# does, each block starting its own server (unit/acl, unit/auth need passwords, ACL files
# and config lines), through redis-server-as-slabd standing in for src/redis-server (and
# redis-check-aof-as-slabd for src/redis-check-aof).
# "@needs-debug" runs that unit's needs:debug tests too (slabd has DEBUG RELOAD, LOADAOF
# and OBJECT, not the rest: list the tests that need other subcommands).
# "@needs-repl" runs its needs:repl tests too (those that need no replica, such as
# MIGRATE's redaction in the slow log and MONITOR: list the ones that do).
# A unit without a file is not run.
skipdir="$here/redis-suite"
JOBS="${REDIS_SUITE_JOBS:-2}"
# Ports: unit number i (0, 1, ...) gets servers on BASEPORT + i*STRIDE .. + PORTCOUNT - 1,
# its TLS port right after them, and the harness's client port in the 32 below BASEPORT.
# Within one engineer's range, REDIS_SUITE_JOBS=1 REDIS_SUITE_PORT_STRIDE=0 reuses one set.
BASEPORT="${REDIS_SUITE_BASEPORT:-21111}"
STRIDE="${REDIS_SUITE_PORT_STRIDE:-200}"
PORTCOUNT="${REDIS_SUITE_PORTCOUNT:-100}"
# REDIS_SUITE_ONLY="unit.info unit/other" runs only those units (names as the .skips files,
# or with slashes as the suite names them).
ONLY="${REDIS_SUITE_ONLY:-}"
ONLY="${ONLY//\//.}"
# REDIS_SUITE_LOGS=DIR keeps each unit's output there, DIR/<unit>/: runtest.log (the
# harness's output), slabd.log (the unit's slabd's stderr) and tmp/ (the suite's tmp/
# directory: the logs of the servers an @own-servers unit starts).
LOGS="${REDIS_SUITE_LOGS:+$(realpath -m "$REDIS_SUITE_LOGS")}"

# Starts slabd for one unit; prints its pid and RESP port.
start_slabd() {
  local log="$1"
  shift
  # -I 8m: string.tcl's "Very big payload" SETs a 4 MB value (memcached's default cap is 1 MB).
  # --enable-debug-command yes: as the suite's own servers run (tests/assets/default.conf).
  # The log exists before slabd's shell opens it, so the wait below never greps a missing file.
  : >"$log"
  "$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -m 256 -I 8m --enable-debug-command yes "$@" \
    >/dev/null 2>"$log" &
  local pid=$!
  echo "$pid" >"$work/pid.$pid"
  for _ in $(seq 100); do
    grep -qx ready "$log" && break
    sleep 0.1
  done
  grep -qx ready "$log" || { cat "$log" >&2; return 1; }
  echo "$pid $(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$log")"
}

# Runs one unit against its own slabd; writes one summary line to $work/result.<name>.
run_unit() {
  local unit="$1" file="$2" lane="$3" name
  name="$(basename "$file" .skips)"
  local skipfile="$work/skip.$name" log="$work/$name.log" flags=() extra=() own=0
  # Each unit's slabd saves (SAVE, CONFIG SET appendonly yes) into a directory of its own.
  mkdir -p "$work/data.$name"
  flags+=(--dir "$work/data.$name")
  local utags=() debug=0 repl=0
  : >"$skipfile"
  local listed=0
  while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
      ''|'#'*) continue ;;
      '@flags '*) read -r -a more <<<"${line#@flags }"; flags+=("${more[@]}"); continue ;;
      '@tags '*) for t in ${line#@tags }; do extra+=(--tags "$t"); done; continue ;;
      '@own-servers') own=1; continue ;;
      '@needs-debug') debug=1; continue ;;
      '@needs-repl') repl=1; continue ;;
    esac
    printf '%s\n' "${line%%  # *}" >>"$skipfile"
    listed=$((listed + 1))
  done <"$file"
  # Each @needs-* given drops its "--tags -needs:..." pair.
  for t in "${tags[@]}"; do
    case "$debug$repl$t" in 1?-needs:debug | ?1-needs:repl) unset 'utags[-1]' ;; *) utags+=("$t") ;; esac
  done
  local start=$SECONDS
  local server pid="" port="" status target=() tlsport=""
  case "$name" in
    *@tls)
      extra+=(--tls)
      tlsport=$((BASEPORT + lane * STRIDE + PORTCOUNT))
      local certs="$suite/tests/tls"
      flags+=(--tls-port "$tlsport" --tls-cert-file "$certs/server.crt"
        --tls-key-file "$certs/server.key" --tls-ca-cert-file "$certs/ca.crt")
      ;;
  esac
  if [ "$own" = 0 ]; then
    server="$(start_slabd "$work/$name.slabd.log" "${flags[@]}")" || {
      echo "$unit: FAILED (slabd did not start)" >"$work/result.$name"
      return 1
    }
    read -r pid port <<<"$server"
    target=(--host 127.0.0.1 --port "${tlsport:-$port}")
  fi
  # Each unit has its own copy of the suite (its tmp/ directory) and its own port range
  # (the harness picks its client port just below --baseport).
  cp -r "$suite" "$work/suite.$name"
  if [ "$own" = 1 ]; then
    ln -sf "$here/redis-server-as-slabd" "$work/suite.$name/src/redis-server"
    ln -sf "$here/redis-check-aof-as-slabd" "$work/suite.$name/src/redis-check-aof"
  fi
  if (cd "$work/suite.$name" && SLABD="$(realpath "$SLABD")" ./runtest "${target[@]}" --single "$unit" \
    --clients 1 --timeout 120 --baseport $((BASEPORT + lane * STRIDE)) --portcount "$PORTCOUNT" \
    --skipfile "$skipfile" "${utags[@]}" "${extra[@]}") >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
  fi
  if [ -n "$pid" ]; then
    kill -0 "$pid" 2>/dev/null || status="FAILED (slabd exited)"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  sed -i 's/\x1b\[[0-9;]*m//g' "$log"
  if [ -n "$LOGS" ]; then
    mkdir -p "$LOGS/$name"
    cp "$log" "$LOGS/$name/runtest.log"
    [ ! -f "$work/$name.slabd.log" ] || cp "$work/$name.slabd.log" "$LOGS/$name/slabd.log"
    [ ! -d "$work/suite.$name/tests/tmp" ] || cp -r "$work/suite.$name/tests/tmp" "$LOGS/$name/"
  fi
  local ok err skipped
  ok=$(grep -c '^\[ok\]: ' "$log" || true)
  err=$(grep -c '^\[err\]: ' "$log" || true)
  skipped=$(grep -cE '^\[(skip|ignore)\]: ' "$log" || true)
  [ -z "$tlsport" ] || unit="$unit (--tls)"
  echo "$unit: $status ($ok passed, $err failed, $skipped skipped [$listed listed], $((SECONDS - start)) s)" \
    >"$work/result.$name"
  if [ "$status" != ok ]; then
    grep -E -A2 '^\[(err|exception)\]' "$log" | head -30 | sed 's/^/    /' >>"$work/result.$name"
  fi
  [ "$status" = ok ]
}

# --- run ------------------------------------------------------------------------------------
echo "60-redis-suite: redis ${version:-?} test suite against slabd, $JOBS units at a time"
units=()
for f in "$skipdir"/*.skips; do
  u="$(basename "$f" .skips)"
  [ -z "$ONLY" ] || [[ " $ONLY " == *" $u "* ]] || continue
  units+=("$u")
done
lane=0
for u in "${units[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  unit="${u%@tls}"
  run_unit "${unit//.//}" "$skipdir/$u.skips" "$lane" &
  lane=$((lane + 1))
done
wait || true
failed=0
for u in "${units[@]}"; do
  r="$work/result.$u"
  if [ -f "$r" ]; then sed 's/^/60-redis-suite: /' "$r"; else echo "60-redis-suite: $u: no result"; fi
  grep -q "^[^ ]*\( (--tls)\)\?: ok " "$r" 2>/dev/null || failed=1
done
[ "$failed" = 0 ] || fail "some tests failed"
echo "60-redis-suite: all files passed"
