#!/usr/bin/env bash
# What authentication costs per request after login: GET/SET throughput and server CPU per
# request (utime+stime from /proc over the run) with no password, with requirepass, and as
# one of 100 ACL users with key patterns (two ~patterns, +@read +@write -@dangerous).
# Targets (issue 13): password >= 0.98x and ACL user >= 0.95x the no-password throughput.
# The three cases alternate within each round; ROUNDS rounds (default 3).
# redis-benchmark -c 50 -r 100000 -n N; with -P (PIPELINE, default 16) the server, not the
# single-threaded client, is what limits throughput.
set -u
SLABD="${SLABD:-$(dirname "$0")/../../target/release/slabd}"
ROUNDS="${ROUNDS:-3}"
N="${N:-2000000}"
PIPELINE="${PIPELINE:-16}"
# PORT: the RESP port (each helper benchmarks on a port range of its own).
P="${PORT:-26501}"
$SLABD -p -1 -l 127.0.0.1 --resp-port $P -t 2 -m 256 2>/dev/null &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
sleep 0.5
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
# run ARGS...: prints "get_rps set_rps us_cpu_per_request"
run() {
  local a b out
  a=$(cpu)
  out=$(redis-benchmark -p $P -c 50 -r 100000 -n "$N" -P "$PIPELINE" -t get,set --csv "$@" 2>/dev/null)
  b=$(cpu)
  local set get
  set=$(echo "$out" | awk -F'"' '$2=="SET"{print $4}')
  get=$(echo "$out" | awk -F'"' '$2=="GET"{print $4}')
  echo "${get:-0} ${set:-0} $(echo "scale=2; ($b-$a)*10000/(2*$N)" | bc)"
}
for i in $(seq 100); do
  redis-cli -p $P ACL SETUSER u$i on '>pw' '~key:*' "~other$i:*" '+@read' '+@write' -@dangerous >/dev/null
done
ratio() { echo "scale=3; $1 / $2" | bc; }
for round in $(seq "$ROUNDS"); do
  read -r ng ns nc <<<"$(run)"
  redis-cli -p $P CONFIG SET requirepass pw >/dev/null
  read -r pg ps pc <<<"$(run -a pw)"
  read -r ag as ac <<<"$(run --user u50 -a pw)"
  redis-cli -p $P -a pw CONFIG SET requirepass "" >/dev/null 2>&1
  echo "round $round req/s GET/SET (CPU us/req): nopass $ng/$ns ($nc)  pass $pg/$ps ($pc)" \
    "acl-user $ag/$as ($ac) -> pass/nopass GET $(ratio "$pg" "$ng") SET $(ratio "$ps" "$ns")," \
    "acl/nopass GET $(ratio "$ag" "$ng") SET $(ratio "$as" "$ns")"
done
echo "load: $(cat /proc/loadavg)"
