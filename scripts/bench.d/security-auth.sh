#!/usr/bin/env bash
# Server CPU per request (utime+stime from /proc) for GET/SET: no password, password, ACL user.
set -u
SLABD="${SLABD:-$(dirname "$0")/../../target/release/slabd}"
P=26501
$SLABD -p -1 -l 127.0.0.1 --resp-port $P -t 2 -m 256 2>/dev/null &
pid=$!
sleep 0.5
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
run() { local a=$(cpu); redis-benchmark -p $P -q -c 50 -n 200000 -t get,set "$@" >/dev/null 2>&1; local b=$(cpu); echo "scale=2; ($b-$a)*10000/400000" | bc; }
for i in $(seq 100); do redis-cli -p $P ACL SETUSER u$i on '>pw' '~key:*' "~other$i:*" '+@read' '+@write' -@dangerous >/dev/null; done
for round in 1 2 3 4; do
  n=$(run)
  redis-cli -p $P CONFIG SET requirepass pw >/dev/null
  p=$(run -a pw)
  a=$(run --user u50 -a pw)
  redis-cli -p $P -a pw CONFIG SET requirepass "" >/dev/null 2>&1
  echo "round $round µs CPU/request: nopass $n  pass $p  acl-user $a"
done
echo "load: $(cat /proc/loadavg)"
kill $pid
