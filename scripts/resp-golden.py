#!/usr/bin/env python3
"""Records redis-server's exact replies to command scripts as Rust test lines.

Usage: resp-golden.py SOCKET SCRIPT > out.rs
SCRIPT holds test blocks: a line `== name [resp3]` starts a test function, every other
non-empty line is one command (arguments split on spaces; `\\s` in an argument is a space,
`''` an empty argument). The server is FLUSHALLed before each test. The output is one
`#[test] fn name()` per block whose `c.check(&[...], "...")` lines hold Redis's replies.
"""
import socket
import sys


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        self.s.connect(path)
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        i = self.buf.index(b"\r\n") + 2
        l, self.buf = self.buf[:i], self.buf[i:]
        return l

    def exact(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        l = self.line()
        t = l[:1]
        if t in (b"$", b"="):
            n = int(l[1:-2])
            return l + (self.exact(n + 2) if n >= 0 else b"")
        if t in (b"*", b"~", b">", b"%"):
            n = int(l[1:-2])
            k = 2 * n if t == b"%" else n
            return l + b"".join(self.reply() for _ in range(max(k, 0)))
        return l

    def cmd(self, args):
        self.s.sendall(encode(args))
        return self.reply()


def rust_str(b):
    s = b.decode("latin-1")
    return s.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "\\r").replace("\n", "\\n")


def main():
    path, script = sys.argv[1], sys.argv[2]
    blocks = []
    for raw in open(script):
        raw = raw.rstrip("\n")
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith("== "):
            parts = raw[3:].split()
            blocks.append((parts[0], "resp3" in parts[1:], []))
        else:
            blocks[-1][2].append(raw)
    for name, resp3, cmds in blocks:
        c = Conn(path)
        c.cmd([b"FLUSHALL"])
        print("#[test]\nfn %s() {\n    let d = daemon(&[]);\n    let mut c = d.connect_resp();" % name)
        if resp3:
            c.cmd([b"HELLO", b"3"])
            print('    c.cmd(&["HELLO", "3"]);')
        for line in cmds:
            args = [a.replace("\\s", " ").replace("''", "") for a in line.split(" ")]
            rep = c.cmd([a.encode() for a in args])
            arglist = ", ".join('"%s"' % rust_str(a.encode()) for a in args)
            print('    c.check(&[%s], "%s");' % (arglist, rust_str(rep)))
        print("}\n")


main()
