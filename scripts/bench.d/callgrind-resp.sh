#!/bin/bash
# Instructions per RESP request (scripts/bench.d/pubsub.md): slabd -t 1 under callgrind,
# zeroed after 8,000 warm-up requests (redis-benchmark -n 4000 -t set,get), dumped after
# redis-benchmark -c 50 -P 1 -t set,get -r 100000 -n 20000 (40,000 requests), with
# nothing active, with one `redis-cli monitor` reading, or with one RESP3 `CLIENT TRACKING
# ON` connection that has read 1,000 of the benchmark's keys and reads each invalidated key
# again (pubsub.py's tracking client, kept tracking). `redis` as the last argument runs
# redis-server (save and AOF off) the same way.
# Usage: scripts/bench.d/callgrind-resp.sh BINARY PORT LABEL [idle|monitor|tracking]
#   [slabd|redis]
# (run it under qbench; output under ${CG_DIR:-/tmp/callgrind-resp}/LABEL-MODE/).
set -e
BIN=$1; PORT=$2; LABEL=$3; MODE=${4:-idle}; KIND=${5:-slabd}
D=${CG_DIR:-/tmp/callgrind-resp}/$LABEL-$MODE
rm -rf $D; mkdir -p $D; cd $D
if [ "$KIND" = redis ]; then
  ARGS=(--port $PORT --bind 127.0.0.1 --save "" --appendonly no --dir $D)
else
  ARGS=(-p 0 -l 127.0.0.1 --resp-port $PORT -t 1 -m 64 --dir $D)
fi
valgrind --tool=callgrind --callgrind-out-file=$D/cg.out.%p $BIN "${ARGS[@]}" >/dev/null 2>$D/valgrind.log &
VP=$!
for i in $(seq 200); do redis-cli -p $PORT ping >/dev/null 2>&1 && break; sleep 0.1; done
redis-benchmark -p $PORT -c 50 -P 1 -t set,get -r 100000 -n 4000 -q >/dev/null 2>&1
MP=""
if [ "$MODE" = monitor ]; then
  redis-cli -p $PORT monitor > /dev/null 2>&1 &
  MP=$!; sleep 1
elif [ "$MODE" = tracking ]; then
  python3 - $PORT $D/invalidated <<'PY' &
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
def cmd(*a):
    return b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in a)
s.sendall(cmd(b"HELLO", b"3") + cmd(b"CLIENT", b"TRACKING", b"ON"))
s.sendall(b"".join(cmd(b"GET", b"key:%012d" % (i * 100)) for i in range(1000)))
P = b">2\r\n$10\r\ninvalidate\r\n*1\r\n$16\r\n"
n, buf = 0, b""
try:
    while True:
        b = s.recv(1 << 16)
        if not b:
            break
        buf += b
        # An invalidation push: >2 $10 invalidate *1 $16 key:... ; read the key again.
        again = []
        while True:
            i = buf.find(P)
            if i < 0 or len(buf) < i + len(P) + 18:
                break
            again.append(buf[i + len(P):i + len(P) + 16])
            buf = buf[i + len(P) + 18:]
        if len(buf) > 1 << 20:
            buf = buf[-4096:]
        if again:
            n += len(again)
            s.sendall(b"".join(cmd(b"GET", k) for k in again))
            open(sys.argv[2], "w").write(str(n))
except Exception:
    pass
PY
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
echo "$LABEL $MODE: $IR instructions, $((IR/40000)) per request, invalidations read $(cat $D/invalidated 2>/dev/null || echo -) (file $TOT)"
