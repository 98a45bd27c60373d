#!/bin/bash
# Instructions per memcached text request (scripts/bench.d/pubsub.md), with or without one
# `watch fetchers mutations` connection reading: the server (slabd -t 1, or memcached -t 1
# for the same figure from the real thing) under callgrind, zeroed after every key is set
# once (slabd-load --warm), dumped after slabd-load --conns 50 --keys 10000 --value-size
# 100 --get-ratio 0.5 --requests 40000.
# Usage: scripts/bench.d/callgrind-mc.sh BINARY PORT LABEL [idle|watch] [slabd|memcached]
# (run it under qbench; LOAD=path/to/slabd-load; output under ${CG_DIR:-/tmp/callgrind-mc}/LABEL-MODE/).
set -e
BIN=$1; PORT=$2; LABEL=$3; MODE=${4:-idle}; KIND=${5:-slabd}
LOAD=${LOAD:-target/release/slabd-load}
D=${CG_DIR:-/tmp/callgrind-mc}/$LABEL-$MODE
N=40000
rm -rf $D; mkdir -p $D
if [ "$KIND" = memcached ]; then
  # valgrind accepts a setrlimit(NOFILE) only at its own hard limit (the shell's less 12),
  # and memcached sets both limits to -c.
  ulimit -n 1024
  ARGS="-p $PORT -l 127.0.0.1 -U 0 -t 1 -m 64 -c 1012 -u $(id -un)"
else
  ARGS="-p $PORT -l 127.0.0.1 -t 1 -m 64"
fi
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out.%p $BIN $ARGS >/dev/null 2>$D/valgrind.log &
VP=$!
for i in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.1; done
LA="--server 127.0.0.1:$PORT --conns 50 --keys 10000 --value-size 100 --get-ratio 0.5"
$LOAD $LA --requests 0 --warm >/dev/null 2>&1
WP=""
if [ "$MODE" = watch ]; then
  # The watcher reads everything and throws it away; its byte count says it saw the lines.
  python3 - $PORT $D/watched <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"watch fetchers mutations\r\n")
n = 0
try:
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        n += len(b)
        open(sys.argv[2], "w").write(str(n))
except Exception:
    pass
PY
  WP=$!; sleep 1
fi
callgrind_control -z $VP >/dev/null
$LOAD $LA --requests $N > $D/load.txt 2>&1
callgrind_control -d $VP >/dev/null
sleep 1
[ -z "$WP" ] || kill $WP 2>/dev/null || true
kill $VP; wait $VP 2>/dev/null || true
TOT=$(ls $D/cg.out.*.1 | head -1)
IR=$(callgrind_annotate $TOT 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}')
echo "$LABEL $MODE: $IR instructions, $((IR/N)) per request, watcher read $(cat $D/watched 2>/dev/null || echo 0) bytes (file $TOT)"
