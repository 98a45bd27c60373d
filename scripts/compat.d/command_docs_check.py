"""COMMAND INFO and COMMAND DOCS of every command and subcommand slabd lists, against
redis-server, in RESP2 and RESP3.

Usage: command_docs_check.py SLABD_PORT REDIS_PORT

Replies are compared as parsed RESP (types kept: a set is not an array), with one
normalisation: subcommands are sorted by name, since Redis lists them in the order of a
hash table seeded per process. The first seven fields of a top-level COMMAND INFO entry
(name, arity, flags, key positions, ACL categories) come from slabd's own command table
and say what slabd does: they are compared too, and where they differ on purpose the
command is listed in OWN_FLAGS. Prints each difference and exits 1 on any.
"""
import socket
import sys

# Commands whose COMMAND INFO flags are slabd's own, on purpose (none so far).
OWN_FLAGS = set()


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return (kind, rest)
        if kind == b"_":
            return (b"_", None)
        if kind == b"$":
            n = int(rest)
            return (b"$", None if n < 0 else self.exact(n))
        n = int(rest)
        if kind == b"%":
            return (b"%", [(self.reply(), self.reply()) for _ in range(n)])
        return (kind, None if n < 0 else [self.reply() for _ in range(n)])

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode() if isinstance(a, str) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()


def normalise(reply, docs):
    """Sorts subcommands (COMMAND INFO: element 9 of each entry; COMMAND DOCS: the
    `subcommands` map) by name, recursively."""
    kind, value = reply
    if not isinstance(value, list):
        return reply
    if kind == b"%" or (docs and kind == b"*" and len(value) % 2 == 0
                        and all(k[0] == b"$" for k in value[0::2])):
        pairs = value if kind == b"%" else list(zip(value[0::2], value[1::2]))
        pairs = [(k, normalise(v, docs)) for k, v in pairs]
        if any(k[1] == b"subcommands" for k, _ in pairs):
            pairs = [(k, sort_subs(v)) if k[1] == b"subcommands" else (k, v) for k, v in pairs]
        if kind == b"%":
            return (kind, pairs)
        return (kind, [x for p in pairs for x in p])
    value = [normalise(v, docs) for v in value]
    if not docs and kind == b"*" and len(value) == 10 and value[0][0] == b"$":
        subs = value[9]
        value[9] = (subs[0], sorted(subs[1], key=lambda e: e[1][0][1]))
    return (kind, value)


def sort_subs(reply):
    kind, value = reply
    pairs = value if kind == b"%" else list(zip(value[0::2], value[1::2]))
    pairs.sort(key=lambda p: p[0][1])
    return (kind, pairs if kind == b"%" else [x for p in pairs for x in p])


def main():
    slabd_port, redis_port = int(sys.argv[1]), int(sys.argv[2])
    lister = Conn(slabd_port)
    names = [n[1].decode() for n in lister.call("COMMAND", "LIST")[1]]
    bad = total = 0
    for proto in ("2", "3"):
        a, b = Conn(slabd_port), Conn(redis_port)
        a.call("HELLO", proto)
        b.call("HELLO", proto)
        for name in names + ["nosuch", "get|key", "config|get|key", "CLIENT|LIST"]:
            for sub in ("INFO", "DOCS"):
                ra, rb = a.call("COMMAND", sub, name), b.call("COMMAND", sub, name)
                ra, rb = normalise(ra, sub == "DOCS"), normalise(rb, sub == "DOCS")
                if sub == "INFO" and name in OWN_FLAGS:
                    ra, rb = ra[1][0][1][7:], rb[1][0][1][7:]
                total += 1
                if ra != rb:
                    bad += 1
                    if bad <= 20:
                        print(f"DIFF RESP{proto} COMMAND {sub} {name}\n  slabd: {ra!r:.400}\n"
                              f"  redis: {rb!r:.400}")
    print(f"command_docs_check: {total - bad}/{total} replies identical "
          f"({len(names)} commands and subcommands)")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
