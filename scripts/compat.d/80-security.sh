#!/usr/bin/env bash
# Security with real clients: redis-cli --tls and --user/--pass, redis-py and pymemcache
# over TLS, openssl s_client, and a password closing the memcached port too. Certificates
# are made here with openssl (a CA, a server certificate, a client certificate).
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
fail() { echo "80-security: FAIL: $*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- certificates ---------------------------------------------------------------------------
c="$work/certs"
mkdir -p "$c"
(
  cd "$c"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -subj /CN=slabd-test-ca \
    -days 2 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost \
    2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >server.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
    -days 2 -extfile server.ext 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=client \
    2>/dev/null
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt \
    -days 2 -extfile client.ext 2>/dev/null
) || fail "openssl could not make the test certificates"

# --- a server with TLS on both protocols and a password --------------------------------------
mc=$(free_port)
resp=$(free_port)
tls=$(free_port)
"$SLABD" -l 127.0.0.1 -p "$mc" --resp-port "$resp" --requirepass s3cret \
  -Z -o "ssl_chain_cert=$c/server.crt,ssl_key=$c/server.key" \
  --tls-port "$tls" --tls-cert-file "$c/server.crt" --tls-key-file "$c/server.key" \
  --tls-ca-cert-file "$c/ca.crt" 2>"$work/slabd.log" &
pids+=($!)
for _ in $(seq 100); do grep -qx ready "$work/slabd.log" && break; sleep 0.1; done
grep -qx ready "$work/slabd.log" || { cat "$work/slabd.log" >&2; fail "slabd did not start"; }

tlscli=(redis-cli --tls --cacert "$c/ca.crt" --cert "$c/client.crt" --key "$c/client.key" -p "$tls")
# redis-cli --tls with a client certificate, and --user/--pass.
[ "$("${tlscli[@]}" PING 2>&1)" = "NOAUTH Authentication required." ] || fail "TLS PING before AUTH"
[ "$("${tlscli[@]}" --pass s3cret SET k v 2>/dev/null)" = OK ] || fail "redis-cli --tls SET"
[ "$("${tlscli[@]}" --user default --pass s3cret GET k 2>/dev/null)" = v ] || fail "redis-cli --tls GET"
# tls-auth-clients yes (the default): no client certificate, no connection.
if redis-cli --tls --cacert "$c/ca.crt" -p "$tls" --pass s3cret PING 2>/dev/null | grep -q PONG; then
  fail "a TLS client without a certificate was served"
fi
# An ACL user over the plain port, then over TLS.
redis-cli -p "$resp" --pass s3cret ACL SETUSER app on '>apppw' '~app:*' '+@read' '+@write' >/dev/null
[ "$(redis-cli -p "$resp" --user app --pass apppw SET app:1 x 2>/dev/null)" = OK ] || fail "ACL user SET"
case "$(redis-cli -p "$resp" --user app --pass apppw SET other x 2>&1)" in
  *NOPERM*) ;;
  *) fail "ACL user wrote outside its keys" ;;
esac
[ "$("${tlscli[@]}" --user app --pass apppw GET app:1 2>/dev/null)" = x ] || fail "ACL user over TLS"

# openssl s_client: the handshake and an inline command on the RESP TLS port.
out=$(printf 'AUTH s3cret\r\nPING\r\n' | timeout 3 openssl s_client -connect "127.0.0.1:$tls" \
  -CAfile "$c/ca.crt" -cert "$c/client.crt" -key "$c/client.key" -quiet -ign_eof 2>/dev/null | head -2 | tr -d '\r' || true)
[ "$out" = $'+OK\n+PONG' ] || fail "openssl s_client: $out"

# Python clients over TLS: redis-py on tls-port, pymemcache on the -Z memcached port (which
# logs in with memcached's ASCII exchange first).
python3 - "$c" "$tls" "$mc" <<'EOF' || fail "python TLS clients"
import socket, ssl, sys
import redis
from pymemcache.client.base import Client
certs, tls, mc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = redis.Redis(host="localhost", port=tls, password="s3cret", ssl=True,
                ssl_ca_certs=f"{certs}/ca.crt", ssl_certfile=f"{certs}/client.crt",
                ssl_keyfile=f"{certs}/client.key")
assert r.set("py", "1") and r.get("py") == b"1"
ctx = ssl.create_default_context(cafile=f"{certs}/ca.crt")
# pymemcache has no ASCII-auth support: log in on the same TLS socket first.
raw = ctx.wrap_socket(socket.create_connection(("localhost", mc)), server_hostname="localhost")
raw.sendall(b"set x 0 0 14\r\ndefault s3cret\r\n")
assert raw.recv(64) == b"STORED\r\n"
raw.sendall(b"get py\r\n")
assert raw.recv(64) == b"VALUE py 0 1\r\n1\r\nEND\r\n"
c = Client(("localhost", mc), tls_context=ctx)
try:
    c.get("py")
    raise SystemExit("pymemcache was served without logging in")
except Exception as e:
    assert "unauthenticated" in str(e), e
EOF

# The bypass: with a password, the memcached protocol on the RESP-capable port is closed too.
reply=$(printf 'get k\r\n' | timeout 5 python3 -c "
import socket,sys
s=socket.create_connection(('127.0.0.1',$mc)); s.settimeout(5)
ctx=__import__('ssl').create_default_context(cafile='$c/ca.crt')
s=ctx.wrap_socket(s, server_hostname='localhost'); s.sendall(b'get k\r\n'); print(s.recv(100).decode().strip())")
[ "$reply" = "CLIENT_ERROR unauthenticated" ] || fail "memcached port before login: $reply"
echo "80-security: redis-cli --tls/--user/--pass, openssl s_client, redis-py and pymemcache over TLS, ACL users: ok"
