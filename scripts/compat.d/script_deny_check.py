"""Which commands a script may call: every command and subcommand redis-server lists in
COMMAND, called with `redis.pcall` from EVAL on slabd and on redis-server, must get the same
decision: refused ("This Redis command is not allowed from script"), unknown, wrong number
of arguments, or run (whatever it then answers).

Usage: script_deny_check.py SLABD_PORT REDIS_PORT

Each command gets the fewest arguments its arity allows, all `x` (a subcommand: the
container, the subcommand, then `x`s), so that nothing it could do matters: a command
Redis lets scripts run either fails on `x` or is harmless on a scratch server. Commands
slabd does not serve (it answers "Unknown Redis command") are counted, not compared.
Prints each difference and exits 1 on any.
"""
import socket
import sys

SCRIPT = b"local r = redis.pcall(unpack(ARGV)) if type(r) == 'table' and r.err then return r.err end return 'ran'"


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def fill(self, n):
        while len(self.buf) < n:
            data = self.sock.recv(1 << 16)
            if not data:
                raise EOFError
            self.buf += data

    def line(self):
        while b"\r\n" not in self.buf:
            self.fill(len(self.buf) + 1)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b"-", b":"):
            return rest
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            self.fill(n + 2)
            out, self.buf = self.buf[:n], self.buf[n + 2:]
            return out
        n = int(rest)
        return None if n < 0 else [self.reply() for _ in range(n)]

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self.reply()


def calls(redis):
    """(argv) for every command and subcommand redis-server lists."""
    out = []
    for entry in redis.call("COMMAND"):
        name, arity = entry[0], int(entry[1])
        subs = entry[9] if len(entry) > 9 and entry[9] else []
        if subs:
            for sub in subs:
                full, sub_arity = sub[0], int(sub[1])
                container, _, subname = full.partition(b"|")
                n = abs(sub_arity)
                out.append([container, subname] + [b"x"] * max(0, n - 2))
        else:
            out.append([name] + [b"x"] * max(0, abs(arity) - 1))
    return sorted(out)


def decision(reply):
    if not isinstance(reply, bytes):
        return "run"
    if b"not allowed from script" in reply:
        return "refused"
    if b"Unknown Redis command called from script" in reply:
        return "unknown"
    if b"Wrong number of args calling Redis command from script" in reply:
        return "arity"
    return "run"


def main():
    slabd, redis = Conn(int(sys.argv[1])), Conn(int(sys.argv[2]))
    diffs, unserved, refused, total = [], [], 0, 0
    for argv in calls(redis):
        want = decision(redis.call(b"EVAL", SCRIPT, b"0", *argv))
        got = decision(slabd.call(b"EVAL", SCRIPT, b"0", *argv))
        total += 1
        refused += want == "refused"
        shown = b" ".join(argv).decode(errors="replace")
        if got == "unknown" and want != "unknown":
            unserved.append(shown)
        elif got != want:
            diffs.append(f"{shown}: slabd {got}, redis {want}")
    # A subcommand's own arity, an unknown subcommand, a container alone.
    for extra in ([b"client", b"help", b"x"], [b"client", b"nosuch"], [b"client"]):
        want = decision(redis.call(b"EVAL", SCRIPT, b"0", *extra))
        got = decision(slabd.call(b"EVAL", SCRIPT, b"0", *extra))
        total += 1
        if got != want:
            diffs.append(f"{b' '.join(extra).decode()}: slabd {got}, redis {want}")
    for d in diffs:
        print("script_deny_check:", d)
    print(
        f"script_deny_check: {total} calls, {refused} refused by redis, "
        f"{len(unserved)} not served by slabd, {len(diffs)} different"
    )
    sys.exit(1 if diffs else 0)


if __name__ == "__main__":
    main()
