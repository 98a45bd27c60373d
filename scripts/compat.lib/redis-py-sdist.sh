# Sourced by the compat parts that run redis-py's own tests (65-redis-py-suite.sh,
# 66-redis-py-scripting.sh). Before sourcing, set `part` to the part's name (for messages).
# Sets: SLABD, work (a temp dir removed at exit), fail(), version (the installed redis-py),
# src (its sdist, unpacked), pid and port (a slabd on a free RESP port, killed at exit).
# Lives outside scripts/compat.d/ so compat.sh does not run it as a part.
here="$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
  [ -n "$pid" ] && wait "$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "$part: FAIL: $*" >&2; exit 1; }

python3 -c 'import pytest' 2>/dev/null || fail "pytest is missing (scripts/install-deps.sh)"
version="$(python3 -c 'import redis; print(redis.__version__)')"
python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
  "redis==$version" -d "$work" >/dev/null 2>&1 || fail "pip download redis==$version"
tar -xzf "$work"/redis-*.tar.gz -C "$work"
src="$(find "$work" -maxdepth 1 -type d -name 'redis-*' | head -1)"

# SLABD_ARGS: more flags for a part's server (68's DEBUG ERROR needs the DEBUG command).
# shellcheck disable=SC2086
"$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -m 256 --dir "$work" ${SLABD_ARGS:-} >/dev/null \
  2>"$work/slabd.log" &
pid=$!
for _ in $(seq 100); do
  grep -qx ready "$work/slabd.log" && break
  sleep 0.1
done
grep -qx ready "$work/slabd.log" || fail "slabd did not start"
port=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")
