#!/usr/bin/env bash
# TLS throughput, -c 50, one client for every server (slabd-load --tls: mio + rustls,
# 2 threads, GET 90% / SET 10%, 100-byte values, 10,000 keys warmed first):
#   memcached text over TLS: slabd -Z vs memcached 1.6 -Z
#   RESP over TLS:           slabd tls-port vs redis-server 7.0 --tls-port
#   and slabd's TLS/plain ratio on each protocol.
# Reports req/s, server CPU per request (user+sys from /proc/PID/stat over the run) and
# the ratios; servers alternate, ROUNDS rounds of SECS seconds each.
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SLABD="${SLABD:-$ROOT/target/release/slabd}"
LOAD="${LOAD:-$ROOT/target/release/slabd-load}"
SECS="${SECS:-5}"
ROUNDS="${ROUNDS:-2}"
# SLABD_ARGS: extra slabd flags (e.g. `-o worker_gather=0`) for on/off comparisons.
SLABD_ARGS="${SLABD_ARGS:-}"
# OTHER=PATH: a second slabd binary (an A/B of two builds in the same call), run beside the
# first on both TLS lines; the order of the two builds alternates between rounds.
OTHER="${OTHER:-}"
# PIN=1: every server on CPU 1, the load generator on CPU 0, so that the client's CPU per
# request (which differs by server) no longer shares the server's core: throughput then
# shows what one core of server does (the machine-bound view; see docs/security.md).
PIN="${PIN:-0}"
srv=() cli=()
if [ "$PIN" = 1 ]; then srv=(taskset -c 1); cli=(taskset -c 0); fi
certs=$(mktemp -d)
# Waits for the servers to exit, so that a second call right after finds the ports free.
trap 'kill $pids 2>/dev/null; for p in $pids; do wait $p 2>/dev/null; done; rm -rf "$certs"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/key.pem" -out "$certs/cert.pem" \
  -days 2 -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
root=$([ "$(id -u)" = 0 ] && echo "-u nobody")
chmod 644 "$certs/key.pem"; chmod 755 "$certs"
# Ports: slabd memcached TLS / plain, slabd RESP TLS / plain, memcached TLS, redis TLS.
# PORT: the first of the eight (each helper benchmarks on a port range of its own).
B="${PORT:-26561}"
S_MT=$B S_MP=$((B + 1)) S_RT=$((B + 2)) S_RP=$((B + 3)) M_T=$((B + 4)) R_T=$((B + 5))
"${srv[@]}" "$SLABD" -p $S_MT -l 127.0.0.1 -t 2 -m 256 -Z -o ssl_chain_cert=$certs/cert.pem,ssl_key=$certs/key.pem \
  --resp-port $S_RP --tls-port $S_RT --tls-cert-file $certs/cert.pem --tls-key-file $certs/key.pem \
  --tls-auth-clients no $SLABD_ARGS 2>/dev/null &
s=$!
"${srv[@]}" "$SLABD" -p $S_MP -l 127.0.0.1 -t 2 -m 256 $SLABD_ARGS 2>/dev/null &
sp=$!
"${srv[@]}" memcached -p $M_T -l 127.0.0.1 -t 2 -m 256 -U 0 $root -Z \
  -o ssl_chain_cert=$certs/cert.pem,ssl_key=$certs/key.pem 2>/dev/null &
m=$!
"${srv[@]}" redis-server --port 0 --bind 127.0.0.1 --tls-port $R_T --tls-cert-file $certs/cert.pem \
  --tls-key-file $certs/key.pem --tls-auth-clients no --save "" --appendonly no \
  --daemonize no >/dev/null 2>&1 &
r=$!
pids="$s $sp $m $r"
O_MT=$((B + 6)) O_RT=$((B + 7))
if [ -n "$OTHER" ]; then
  "${srv[@]}" "$OTHER" -p $O_MT -l 127.0.0.1 -t 2 -m 256 -Z -o ssl_chain_cert=$certs/cert.pem,ssl_key=$certs/key.pem \
    --tls-port $O_RT --tls-cert-file $certs/cert.pem --tls-key-file $certs/key.pem \
    --tls-auth-clients no $SLABD_ARGS 2>/dev/null &
  o=$!
  pids="$pids $o"
fi
sleep 1
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
# run NAME PID PORT PROTOCOL [--tls]: prints "ops server_us_per_request client_us_per_request"
run() {
  local pid=$2 port=$3 proto=$4; shift 4
  "${cli[@]}" "$LOAD" --server 127.0.0.1:$port --protocol $proto --keys 10000 --requests 0 --warm "$@" >/dev/null 2>&1
  local a; a=$(cpu $pid)
  local out; out=$(/usr/bin/time -f '%U %S' -o "$certs/time" "${cli[@]}" "$LOAD" --server 127.0.0.1:$port --protocol $proto --conns 50 --threads 2 \
    --keys 10000 --value-size 100 --get-ratio 0.9 --duration $SECS "$@" 2>/dev/null | tail -1)
  local b; b=$(cpu $pid)
  local ops; ops=$(echo "$out" | grep -oE '"ops_per_sec":[0-9.]+' | cut -d: -f2)
  local done_; done_=$(echo "$out" | grep -oE '"completed":[0-9]+' | cut -d: -f2)
  local cu; cu=$(awk '{print $1+$2}' "$certs/time")
  echo "${ops:-0} $(echo "scale=2; ($b - $a) * 10000 / ${done_:-1}" | bc)" \
    "$(echo "scale=2; $cu * 1000000 / ${done_:-1}" | bc)"
}
ratio() { echo "scale=2; $1 / $2" | bc; }
for round in $(seq "$ROUNDS"); do
  # With OTHER, the other build runs first in even rounds and last in odd ones.
  if [ -n "$OTHER" ] && [ $((round % 2)) = 0 ]; then
    read -r o_mt o_mt_us o_mt_cl <<<"$(run other $o $O_MT memcache --tls)"
  fi
  read -r s_mt s_mt_us s_mt_cl <<<"$(run slabd $s $S_MT memcache --tls)"
  read -r m_t m_t_us m_t_cl <<<"$(run memcached $m $M_T memcache --tls)"
  read -r s_mp s_mp_us s_mp_cl <<<"$(run slabd $sp $S_MP memcache)"
  if [ -n "$OTHER" ] && [ $((round % 2)) = 1 ]; then
    read -r o_mt o_mt_us o_mt_cl <<<"$(run other $o $O_MT memcache --tls)"
  fi
  if [ -n "$OTHER" ] && [ $((round % 2)) = 0 ]; then
    read -r o_rt o_rt_us o_rt_cl <<<"$(run other $o $O_RT resp --tls)"
  fi
  read -r s_rt s_rt_us s_rt_cl <<<"$(run slabd $s $S_RT resp --tls)"
  read -r r_t r_t_us r_t_cl <<<"$(run redis $r $R_T resp --tls)"
  read -r s_rp s_rp_us s_rp_cl <<<"$(run slabd $s $S_RP resp)"
  if [ -n "$OTHER" ] && [ $((round % 2)) = 1 ]; then
    read -r o_rt o_rt_us o_rt_cl <<<"$(run other $o $O_RT resp --tls)"
  fi
  echo "round $round memcached text over TLS: slabd -Z ${s_mt} req/s (${s_mt_us} us CPU/req, client ${s_mt_cl})," \
    "memcached -Z ${m_t} req/s (${m_t_us} us, client ${m_t_cl}) -> $(ratio $s_mt $m_t)x;" \
    "slabd TLS/plain $(ratio $s_mt $s_mp) (plain ${s_mp} req/s, ${s_mp_us} us)"
  if [ -n "$OTHER" ]; then
    echo "round $round memcached text over TLS: other ${o_mt} req/s (${o_mt_us} us CPU/req, client ${o_mt_cl})" \
      "-> $(ratio $o_mt $m_t)x memcached; slabd/other $(ratio $s_mt $o_mt)"
  fi
  echo "round $round RESP over TLS: slabd tls-port ${s_rt} req/s (${s_rt_us} us CPU/req, client ${s_rt_cl})," \
    "redis-server ${r_t} req/s (${r_t_us} us, client ${r_t_cl}) -> $(ratio $s_rt $r_t)x;" \
    "slabd TLS/plain $(ratio $s_rt $s_rp) (plain ${s_rp} req/s, ${s_rp_us} us)"
  if [ -n "$OTHER" ]; then
    echo "round $round RESP over TLS: other ${o_rt} req/s (${o_rt_us} us CPU/req, client ${o_rt_cl})" \
      "-> $(ratio $o_rt $r_t)x redis-server; slabd/other $(ratio $s_rt $o_rt)"
  fi
done
echo "load: $(cat /proc/loadavg)"
