#!/usr/bin/env bash
# TLS GET/SET, -c 50: slabd tls-port vs redis-server 7.0 --tls-port; throughput and server
# CPU per request, alternating.
set -u
C="${CERTS:?CERTS=dir with ca.crt, server.crt, server.key}"
SLABD="${SLABD:-$(dirname "$0")/../../target/release/slabd}"
$SLABD -p -1 -l 127.0.0.1 -t 2 -m 256 --tls-port 26510 --tls-cert-file $C/server.crt --tls-key-file $C/server.key --tls-auth-clients no --resp-port 26512 2>/dev/null &
s=$!
redis-server --port 0 --tls-port 26511 --tls-cert-file $C/server.crt --tls-key-file $C/server.key --tls-auth-clients no --save "" --appendonly no --daemonize no >/dev/null 2>&1 &
r=$!
sleep 1
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
run() { local pid=$1; shift; local a=$(cpu $pid); local out=$(redis-benchmark -q -c 50 -n 100000 -t get,set --tls --cacert $C/ca.crt "$@" 2>/dev/null | tr '\r' '\n' | grep -oE '^(SET|GET): [0-9.]+ requests' | sed 's/ requests//' | tr '\n' ' '); local b=$(cpu $pid); echo "$out cpu/req=$(echo "scale=2; ($b-$a)*10000/200000" | bc)us"; }
plain() { local pid=$1; shift; local a=$(cpu $pid); local out=$(redis-benchmark -q -c 50 -n 100000 -t get,set "$@" 2>/dev/null | tr '\r' '\n' | grep -oE '^(SET|GET): [0-9.]+ requests' | sed 's/ requests//' | tr '\n' ' '); local b=$(cpu $pid); echo "$out cpu/req=$(echo "scale=2; ($b-$a)*10000/200000" | bc)us"; }
for round in 1 2 3; do
  echo "round $round slabd tls:  $(run $s -p 26510)"
  echo "round $round redis tls:  $(run $r -p 26511)"
  echo "round $round slabd plain: $(plain $s -p 26512)"
done
echo "load: $(cat /proc/loadavg)"
kill $s $r
