#!/usr/bin/env bash
# Persistence compatibility with redis-server 7.0: slabd reads the dump.rdb and AOF that
# redis-server writes (every type, every encoding), and redis-check-rdb accepts slabd's.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
SLABD="${SLABD:-$here/../../target/release/slabd}"
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "70-persistence: FAIL: $*" >&2; exit 1; }
# Waits until the server on port $1 runs or schedules no AOF rewrite.
wait_aofrw() {
  for _ in $(seq 200); do
    info=$(redis-cli -p "$1" info persistence | tr -d '\r')
    if grep -qx 'aof_rewrite_in_progress:0' <<<"$info" && grep -qx 'aof_rewrite_scheduled:0' <<<"$info"; then
      return
    fi
    sleep 0.1
  done
  fail "the AOF rewrite on port $1 did not finish"
}
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- redis-server writes every type and encoding; slabd check-rdb / check-aof read them ---
rport=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work/redis" --save '' \
  --appendonly yes --aof-use-rdb-preamble no >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$here/persistence_fill.py" fill "$rport"
redis-cli -p "$rport" save >/dev/null
# The AOF's base as commands (aof-use-rdb-preamble no): slabd loads it below.
redis-cli -p "$rport" bgrewriteaof >/dev/null
wait_aofrw "$rport"
ls "$work/redis/appendonlydir/"*.base.aof >/dev/null || fail "redis-server wrote no command base"
want_keys=0
for db in 0 1 15; do want_keys=$((want_keys + $(redis-cli -p "$rport" -n $db dbsize))); done
python3 "$here/persistence_fill.py" dump "$rport" >"$work/want.txt"

out=$("$SLABD" check-rdb "$work/redis/dump.rdb") || { echo "$out"; fail "check-rdb rejected redis's dump"; }
grep -q 'RDB looks OK' <<<"$out" || fail "check-rdb: no OK line"
grep -qx "\[info\] $want_keys keys read" <<<"$out" || { echo "$out"; fail "check-rdb: expected $want_keys keys"; }
manifest="$work/redis/appendonlydir/appendonly.aof.manifest"
"$SLABD" check-aof "$manifest" >"$work/check-aof.txt" || { cat "$work/check-aof.txt"; fail "check-aof rejected redis's AOF"; }
echo "70-persistence: slabd check-rdb/check-aof accept redis-server's files ($want_keys keys)"

# A torn tail: check-aof reports it and --fix truncates it; redis-check-aof agrees.
incr=$(ls "$work/redis/appendonlydir/"*.incr.aof | tail -1)
printf '*3\r\n$3\r\nSET\r\n$1\r\nk' >>"$incr"
if "$SLABD" check-aof "$incr" >/dev/null; then fail "check-aof accepted a torn tail"; fi
"$SLABD" check-aof --fix "$incr" <<<y >/dev/null || fail "check-aof --fix failed"
redis-check-aof "$incr" >"$work/rca.txt" 2>&1 || { cat "$work/rca.txt"; fail "redis-check-aof rejects the fixed file"; }
echo "70-persistence: torn AOF tail found, fixed, accepted by redis-check-aof"

# --- slabd loads redis-server's dump: strings, hashes, sets, lists, sorted sets ----------
sdir="$work/slabd"
mkdir -p "$sdir"
cp "$work/redis/dump.rdb" "$sdir/dump.rdb"
start_slabd() {
  "$SLABD" -p -1 -l 127.0.0.1 --resp-port 0 -t 2 --dir "$sdir" "$@" 2>"$work/slabd.log" &
  spid=$!
  pids+=($spid)
  for _ in $(seq 100); do
    if grep -qx ready "$work/slabd.log"; then
      sport=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd.log")
      # Loading runs beside the server: wait until it is done.
      for _ in $(seq 200); do
        redis-cli -p "$sport" info persistence | tr -d '\r' | grep -qx 'loading:0' && return
        sleep 0.1
      done
      fail "slabd is still loading"
    fi
    sleep 0.1
  done
  cat "$work/slabd.log" >&2
  fail "slabd did not start"
}
start_slabd
python3 "$here/persistence_fill.py" dump "$sport" >"$work/got.txt"
all_types="hash list set string zset"
loaded_types=$(awk '$1 ~ /^[0-9]+$/ {print $3}' "$work/got.txt" | sort -u | paste -sd' ')
[ "$loaded_types" = "$all_types" ] || fail "slabd loaded types '$loaded_types', want '$all_types'"
diff "$work/want.txt" "$work/got.txt" >"$work/diff.txt" || { head -20 "$work/diff.txt" | cut -c1-300; fail "slabd's copy of redis's dump differs"; }
echo "70-persistence: slabd loaded redis-server's dump: $(wc -l <"$work/got.txt") lines equal: keys, function library (types: $loaded_types)"
kill "$spid"; wait "$spid" 2>/dev/null || true

# --- slabd replays redis-server's AOF (a base of commands, then the incremental file) ---
mkdir -p "$sdir/aof"
cp -r "$work/redis/appendonlydir" "$sdir/aof/"
start_slabd --appendonly yes --dir "$sdir/aof"
python3 "$here/persistence_fill.py" dump "$sport" >"$work/got-aof.txt"
diff "$work/want.txt" "$work/got-aof.txt" >"$work/diff-aof.txt" || { head -20 "$work/diff-aof.txt" | cut -c1-300; fail "slabd's replay of redis's AOF differs"; }
echo "70-persistence: slabd replayed redis-server's AOF with a command base ($(wc -l <"$work/got-aof.txt") lines equal)"
kill "$spid"; wait "$spid" 2>/dev/null || true
start_slabd

# --- redis-server and redis-check-rdb load slabd's dump ----------------------------------
redis-cli -p "$sport" save >/dev/null
redis-check-rdb "$sdir/dump.rdb" >"$work/rcr.txt" 2>&1 || { cat "$work/rcr.txt"; fail "redis-check-rdb rejects slabd's dump"; }
kill "$spid"; wait "$spid" 2>/dev/null || true
r2port=$(free_port)
redis-server --port "$r2port" --bind 127.0.0.1 --dir "$sdir" --dbfilename dump.rdb --save '' \
  >"$work/redis2.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$r2port" ping >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$here/persistence_fill.py" dump "$r2port" >"$work/back.txt"
# Every type, both directions: redis-server's copy of slabd's dump equals slabd's data.
diff "$work/got.txt" "$work/back.txt" >"$work/diff2.txt" || { head -20 "$work/diff2.txt" | cut -c1-300; cat "$work/redis2.log"; fail "redis-server's copy of slabd's dump differs"; }
echo "70-persistence: redis-server 7.0 loaded slabd's dump ($(wc -l <"$work/back.txt") lines equal: keys, function library, types: $all_types); redis-check-rdb accepts it"

# --- slabd's AOF (collection writes logged as commands) replays in redis-server 7.0 -------
adir="$work/slabd-aof"
mkdir -p "$adir"
amport=$(free_port)
"$SLABD" -p "$amport" -l 127.0.0.1 --resp-port 0 -t 2 --dir "$adir" --appendonly yes \
  --appendfsync always --aof-use-rdb-preamble no 2>"$work/slabd-aof.log" &
apid=$!
pids+=($apid)
aport=""
for _ in $(seq 100); do
  if grep -qx ready "$work/slabd-aof.log"; then
    aport=$(sed -n 's/^listening on resp .*:\([0-9]*\)$/\1/p' "$work/slabd-aof.log")
    break
  fi
  sleep 0.1
done
[ -n "$aport" ] || { cat "$work/slabd-aof.log" >&2; fail "slabd (AOF) did not start"; }
python3 "$here/persistence_fill.py" fill "$aport"
# The filled data into a base of commands (.base.aof), the writes below into the new
# incremental file.
redis-cli -p "$aport" bgrewriteaof >/dev/null
wait_aofrw "$aport"
ls "$adir/appendonlydir/"*.base.aof >/dev/null || fail "slabd wrote no command base"
for c in "LPOP db0:list-small" "RPUSH db0:list-small tail" "LTRIM db0:list-big 5 -5" \
         "LINSERT db1:list-small BEFORE b ins" "LSET db15:list-small 0 first" \
         "ZINCRBY db0:zset-small 2 a" "ZREM db0:zset-big m3" "ZPOPMIN db1:zset-big 2" \
         "HDEL db0:hash-big f7" "HINCRBY db0:hash-small f2 40" "SREM db0:set-big m9" \
         "SADD db1:set-int 77" "EXPIRE db0:list-big 100000"; do
  # shellcheck disable=SC2086
  redis-cli -p "$aport" $c >/dev/null
done
# A memcached item with client flags: its record is a SET after a #slabd-mc-flags
# annotation, which redis-server's loader and redis-check-aof skip.
python3 - "$amport" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"set db0:mc-flagged 77 0 5\r\nhello\r\n")
assert s.recv(100) == b"STORED\r\n"
PY
python3 "$here/persistence_fill.py" dump "$aport" >"$work/aof-got.txt"
# (persistence_fill.py prints keys and values in hex: db0:mc-flagged, hello)
grep -q "6462303a6d632d666c6167676564 string none 68656c6c6f" "$work/aof-got.txt" || fail "the memcached item is not in slabd's data"
grep -qa "#slabd-mc-flags:77" "$adir"/appendonlydir/*.incr.aof || fail "no flags annotation in slabd's AOF"
redis-check-aof "$adir/appendonlydir/appendonly.aof.manifest" >"$work/rca2.txt" 2>&1 \
  || { cat "$work/rca2.txt"; fail "redis-check-aof rejects slabd's AOF"; }
grep -q "RPUSH\|ZINCRBY" "$adir"/appendonlydir/*.incr.aof || fail "slabd's AOF has no command records"
kill "$apid"; wait "$apid" 2>/dev/null || true
r3port=$(free_port)
redis-server --port "$r3port" --bind 127.0.0.1 --dir "$adir" --appendonly yes --save '' \
  >"$work/redis3.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$r3port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
python3 "$here/persistence_fill.py" dump "$r3port" >"$work/aof-back.txt"
diff "$work/aof-got.txt" "$work/aof-back.txt" >"$work/diff3.txt" || { head -20 "$work/diff3.txt" | cut -c1-300; cat "$work/redis3.log"; fail "redis-server's replay of slabd's AOF differs"; }
echo "70-persistence: redis-check-aof accepts slabd's AOF and redis-server 7.0 replays it ($(wc -l <"$work/aof-back.txt") lines equal: a base of commands, keys, function library, collection writes logged as commands, a memcached item with flags)"

# --- DUMP / RESTORE payloads move both ways between redis-server 7.0 and slabd ------------
sdir="$work/slabd-dump"
mkdir -p "$sdir"
start_slabd
python3 "$here/persistence_fill.py" copy "$rport" "$sport"
python3 "$here/persistence_fill.py" dump "$sport" >"$work/restore-got.txt"
diff "$work/want.txt" "$work/restore-got.txt" >"$work/diff4.txt" || { head -20 "$work/diff4.txt" | cut -c1-300; fail "slabd's RESTORE of redis's DUMP payloads differs"; }
r4port=$(free_port)
redis-server --port "$r4port" --bind 127.0.0.1 --dir "$sdir" --save '' >"$work/redis4.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$r4port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
python3 "$here/persistence_fill.py" copy "$sport" "$r4port"
python3 "$here/persistence_fill.py" dump "$r4port" >"$work/restore-back.txt"
diff "$work/want.txt" "$work/restore-back.txt" >"$work/diff5.txt" || { head -20 "$work/diff5.txt" | cut -c1-300; fail "redis-server's RESTORE of slabd's DUMP payloads differs"; }
echo "70-persistence: DUMP/RESTORE both ways with redis-server 7.0 ($(wc -l <"$work/restore-back.txt") lines equal: keys, function library, every type and encoding)"

# --- MIGRATE both ways: slabd -> redis-server 7.0 -> slabd, every type, TTLs, 3 databases --
r5port=$(free_port)
redis-server --port "$r5port" --bind 127.0.0.1 --dir "$work" --dbfilename migrate.rdb --save '' \
  >"$work/redis5.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$r5port" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
python3 "$here/persistence_fill.py" migrate "$sport" "$r5port"
python3 "$here/persistence_fill.py" dump "$r5port" >"$work/migrated.txt"
diff "$work/want.txt" "$work/migrated.txt" >"$work/diff6.txt" || { head -20 "$work/diff6.txt" | cut -c1-300; fail "slabd's MIGRATE to redis-server differs"; }
kill "$spid"; wait "$spid" 2>/dev/null || true
sdir="$work/slabd-migrate"
mkdir -p "$sdir"
start_slabd
python3 "$here/persistence_fill.py" migrate "$r5port" "$sport"
python3 "$here/persistence_fill.py" dump "$sport" >"$work/migrated2.txt"
diff "$work/want.txt" "$work/migrated2.txt" >"$work/diff7.txt" || { head -20 "$work/diff7.txt" | cut -c1-300; fail "redis-server's MIGRATE to slabd differs"; }
echo "70-persistence: MIGRATE both ways with redis-server 7.0 ($(wc -l <"$work/migrated2.txt") lines equal: every type and encoding, TTLs, databases 0, 1, 15)"
