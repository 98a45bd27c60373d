#!/usr/bin/env bash
# Server CPU per connection opened and dropped (accept, hand-off, EOF, close): a Python
# loop connects and closes for 5 s against slabd, then memcached 1.6 (both -t 2), two
# alternating rounds; CPU from /proc/PID/stat (clock ticks of 10 ms).
set -u
SLABD="${SLABD:-$(dirname "$0")/../../target/release/slabd}"
cpu() { awk '{print $14+$15}' /proc/$1/stat; }
flood() {
  python3 -c '
import socket, sys, time
end = time.time() + 5; n = 0
while time.time() < end:
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); c.close(); n += 1
    except OSError:
        pass
print(n)' "$1"
}
$SLABD -p 26531 -l 127.0.0.1 -t 2 -m 256 -c 4096 2>/dev/null &
s=$!
memcached -p 26532 -l 127.0.0.1 -t 2 -m 256 -c 4096 -U 0 $([ "$(id -u)" = 0 ] && echo -u nobody) 2>/dev/null &
m=$!
sleep 0.5
for round in 1 2; do
  for pair in "slabd $s 26531" "memcached $m 26532"; do
    set -- $pair
    a=$(cpu $2); n=$(flood $3); b=$(cpu $2)
    echo "round $round $1: $n connections, $(echo "scale=2; ($b - $a) * 10000 / $n" | bc) us CPU each"
  done
done
echo "load: $(cat /proc/loadavg)"
kill $s $m
