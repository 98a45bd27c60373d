#!/bin/bash
# Instructions per RESP request (scripts/bench.d/pubsub.md): slabd -t 1 under callgrind,
# zeroed after 8,000 warm-up requests (redis-benchmark -n 4000 -t set,get), dumped after
# redis-benchmark -c 50 -P 1 -t set,get -r 100000 -n 20000 (40,000 requests), with
# nothing active or with one `redis-cli monitor` reading.
# Usage: scripts/bench.d/callgrind-resp.sh BINARY PORT LABEL [idle|monitor]
# (run it under qbench; output under ${CG_DIR:-/tmp/callgrind-resp}/LABEL-MODE/).
set -e
BIN=$1; PORT=$2; LABEL=$3; MODE=${4:-idle}
D=${CG_DIR:-/tmp/callgrind-resp}/$LABEL-$MODE
rm -rf $D; mkdir -p $D; cd $D
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out.%p $BIN -p 0 -l 127.0.0.1 --resp-port $PORT -t 1 -m 64 >/dev/null 2>$D/valgrind.log &
VP=$!
for i in $(seq 200); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p $PORT -c 50 -P 1 -t set,get -r 100000 -n 4000 -q >/dev/null 2>&1
MP=""
if [ "$MODE" = monitor ]; then
  redis-cli -p $PORT monitor > /dev/null 2>&1 &
  MP=$!; sleep 1
fi
callgrind_control -z $VP >/dev/null
redis-benchmark -p $PORT -c 50 -P 1 -t set,get -r 100000 -n 20000 -q > $D/bench.txt 2>&1
callgrind_control -d $VP >/dev/null
sleep 1
[ -z "$MP" ] || kill $MP 2>/dev/null || true
kill $VP; wait $VP 2>/dev/null || true
# The dump's part (.1) holds what ran between the zero and the dump.
TOT=$(ls $D/cg.out.*.1 | head -1)
IR=$(callgrind_annotate $TOT 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",","",$1); print $1}')
echo "$LABEL $MODE: $IR instructions, $((IR/40000)) per request (file $TOT)"
