#!/usr/bin/env bash
# A connection flood against a loaded server (issue 13's target): memcaslap runs GET/SET
# (-c 50, 2 threads) against slabd, then against memcached 1.6, each alone and while
# another process opens and drops connections as fast as it can; reports each server's
# throughput under the flood as a ratio of its undisturbed throughput, server CPU per
# request (user+sys from /proc/PID/stat over each run, flood work included), the
# connections the flood made, and the load average.
set -u
SLABD="${SLABD:-$(dirname "$0")/../../target/release/slabd}"
SECS="${SECS:-10}"
# PORT: slabd's port, memcached's the next one.
PORT_S="${PORT:-26520}"
PORT_M=$((PORT_S + 1))
$SLABD -p $PORT_S -l 127.0.0.1 -t 2 -m 256 -c 4096 2>/dev/null &
s=$!
memcached -p $PORT_M -l 127.0.0.1 -t 2 -m 256 -c 4096 -U 0 $([ "$(id -u)" = 0 ] && echo -u nobody) 2>/dev/null &
m=$!
sleep 1
# MC_NICE=10: memcached's dispatcher (its main thread) niced like slabd's acceptor, to
# compare the servers with the same accept priority.
[ -n "${MC_NICE:-}" ] && renice -n "$MC_NICE" -p $m >/dev/null
# Opens and drops connections until killed; every 1000 it writes how many it made.
FLOOD='
import socket, sys
port = int(sys.argv[1]); n = 0
while True:
    try:
        s = socket.create_connection(("127.0.0.1", port)); s.close(); n += 1
    except OSError:
        pass
    if n % 1000 == 0:
        open("/tmp/slabd-flood-count", "w").write(str(n))
'
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
# memcaslap's TPS; sets US to the server's CPU microseconds per request over the run.
tps() {
  local a b t
  a=$(cpu $2)
  t=$(memcaslap -s 127.0.0.1:$1 -t ${SECS}s -c 50 -T 2 2>/dev/null |
    awk '/^Run time/ {for (i = 1; i <= NF; i++) if ($i == "TPS:") print $(i + 1)}' | tail -1)
  b=$(cpu $2)
  US=$(echo "scale=2; ($b - $a) * 10000 / ($t * $SECS)" | bc)
  echo "$t"
}
for round in $(seq ${ROUNDS:-2}); do
  for name in slabd memcached; do
    port=$PORT_S; pid=$s; [ $name = memcached ] && { port=$PORT_M; pid=$m; }
    tps $port $pid >/tmp/slabd-flood-tps; alone=$(cat /tmp/slabd-flood-tps); us_alone=$US
    rm -f /tmp/slabd-flood-count
    python3 -c "$FLOOD" $port &
    f=$!
    tps $port $pid >/tmp/slabd-flood-tps; busy=$(cat /tmp/slabd-flood-tps); us_busy=$US
    kill $f 2>/dev/null; wait $f 2>/dev/null
    made=$(cat /tmp/slabd-flood-count 2>/dev/null || echo 0)
    echo "round $round $name: alone ${alone} TPS (${us_alone} us CPU/req)," \
      "under flood ${busy} TPS (${us_busy} us CPU/req)" \
      "ratio $(echo "scale=2; $busy / $alone" | bc), flood made ~${made} connections"
  done
done
echo "load: $(cat /proc/loadavg)"
kill $s $m
