#!/usr/bin/env python3
"""memcached-parity side-by-side runs (issue 12's targets): slabd against memcached 1.6, same
flags, alternating rounds; throughput ratios and server CPU per request (utime+stime from
/proc/PID/stat over the run, divided by the requests the tool reports).

    python3 scripts/bench.d/memcached-parity.py [--rounds 2] [--duration 5] [--only TEXT]
        [--perf DIR] [--syscalls] [--warm SECS] [--pin]

--only runs the workloads whose title contains TEXT (`1 MiB`, `memcaslap`, `null`, `shifting`);
the null-server ceiling is memcaslap's text workload against `slabd -o null_server`.
--perf records `perf record -g` of each server over each measured run into DIR.
--syscalls counts each server's system calls and context switches over each measured run
(`perf stat` of the syscall tracepoints) and prints them per request.
Each round prints the load generator's CPU per request too (user+sys of the finished child):
with server and client sharing two cores, throughput is about 2 / (server + client µs).
--pin runs every server on CPU 0 only (`taskset -c 0`, -t 1) and the load generator on CPU 1
only: the throughput ratio is then the servers' own capacity on one core, not the client's.
--warm SECS (default 3): the large-value memcaslap rows first run SECS of sets, unmeasured,
so -m is written once before the measured run (slabd-load's rows warm with --warm too).

Workloads: 1 KiB, 100 KiB and 1 MiB values at 50% set (slabd-load, 50 connections); memcaslap
90% get / 10% set of 100 B values, text and --binary; 100 KiB and 1 MiB values at 50% set over
the binary protocol (memcaslap --binary); the shifting size mix (fill with
100 B values, flush_all, fill with 10 KiB values at the same -m, count what is stored).
"""
import argparse, json, os, re, resource, socket, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import placement  # noqa: E402  (same directory: the worker-CPU and INFO readers)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SLABD = os.environ.get("SLABD", os.path.join(ROOT, "target/release/slabd"))
# SLABD_LOAD: another load generator build (an A/B of the client itself).
LOAD = os.environ.get("SLABD_LOAD", os.path.join(ROOT, "target/release/slabd-load"))
TICK = os.sysconf("SC_CLK_TCK")


# PORT: take the servers' ports from PORT..PORT+29 in turn (each helper benchmarks on a
# port range of its own); unset, the kernel picks a free one.
PORT = int(os.environ.get("PORT", "0"))
_turn = [0]


def free_port():
    for _ in range(30 if PORT else 1):
        port = PORT + _turn[0] % 30 if PORT else 0
        _turn[0] += 1
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise SystemExit(f"no free port in {PORT}..{PORT + 29}")


class Server:
    def __init__(self, kind, args):
        self.kind, self.port = kind, free_port()
        exe = {"slabd": [SLABD], "null": [SLABD, "-o", "null_server"]}.get(
            kind, ["memcached", "-u", "root"])
        # SLABD_ARGS: extra slabd flags (e.g. `-o worker_gather=0`) for on/off comparisons.
        extra = os.environ.get("SLABD_ARGS", "").split() if kind != "memcached" else []
        # --pin: the server on CPU 0 only with one worker, the load generator on CPU 1.
        pin, threads = (["taskset", "-c", "0"], "1") if PIN else ([], "2")
        self.p = subprocess.Popen(pin + exe + ["-p", str(self.port), "-l", "127.0.0.1", "-U",
                                               "0", "-t", threads] + args + extra,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit(f"{kind} did not start")

    def cpu(self):
        f = open(f"/proc/{self.p.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / TICK

    def talk(self, req):
        with socket.create_connection(("127.0.0.1", self.port)) as s:
            s.sendall(req)
            buf = b""
            while not buf.endswith(b"END\r\n") and not buf.endswith(b"OK\r\n"):
                buf += s.recv(65536)
            return buf.decode()

    def stat(self, name):
        return int(re.search(rf"STAT {name} (\d+)", self.talk(b"stats\r\n")).group(1))

    def stop(self):
        self.p.terminate()
        self.p.wait()

    def workers(self):
        """Seconds of CPU of each worker thread (slabd-worker-N), by N (slabd only)."""
        return placement.worker_cpu(self.p.pid)

    def placement(self, before):
        """slabd's placement over a run: each worker's share of the workers' CPU since
        `before` (self.workers()) and INFO stats' gather fields (RESP on the same port)."""
        if self.kind != "slabd":
            return ""
        after = self.workers()
        used = {w: after[w] - before.get(w, 0) for w in after}
        total = sum(used.values()) or 1
        split = "/".join(f"{used[w] / total:.2f}" for w in sorted(used))
        fields = placement.info(self.port, (
            "workers_active", "worker_moves", "worker_trials", "worker_trials_kept",
            "worker_trials_recalled", "worker_trial_last"))
        return f"; workers CPU {split}; {fields}"


PERF_DIR = None
# slabd's placement over each slabd-load run (Server.placement), printed with its round.
PLACED = []
PIN = False
CLIENT_PIN = lambda argv: (["taskset", "-c", "1"] + argv) if PIN else argv


def perf_start(srv, name):
    """`perf record -g` of the server while a run lasts (--perf), or None."""
    if not PERF_DIR:
        return None
    os.makedirs(PERF_DIR, exist_ok=True)
    out = os.path.join(PERF_DIR, re.sub(r"[^A-Za-z0-9]+", "-", f"{srv.kind}-{name}") + ".data")
    return subprocess.Popen(["perf", "record", "-g", "-o", out, "-p", str(srv.p.pid)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SYSCALLS = False
COUNTED = ["read", "readv", "recvfrom", "write", "writev", "sendto", "sendmsg", "epoll_wait",
           "setsockopt"]


def count_start(srv):
    """`perf stat` of the server's system calls and context switches (--syscalls), or None."""
    if not SYSCALLS:
        return None
    events = ",".join(f"syscalls:sys_enter_{c}" for c in COUNTED) + ",context-switches"
    out = f"/tmp/memcached-parity-perfstat-{srv.p.pid}.csv"
    return out, subprocess.Popen(["perf", "stat", "-x", ",", "-o", out, "-e", events, "-p",
                                  str(srv.p.pid)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)


def count_stop(rec, requests):
    """Ends a `count_start` and prints its counts per request."""
    if not rec:
        return
    out, proc = rec
    proc.send_signal(2)
    proc.wait()
    counts = []
    for line in open(out):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].isdigit():
            name = f[2].replace("syscalls:sys_enter_", "")
            counts.append(f"{name} {int(f[0]) / max(requests, 1):.2f}")
    os.remove(out)
    print("     per request: " + ", ".join(counts), flush=True)


def children_cpu():
    """CPU seconds (user+sys) of this script's finished children: the load generator's
    share of the two cores, read around one measured run."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


CLIENT = []


def perf_stop(rec):
    if rec:
        rec.send_signal(2)
        rec.wait()


def load(srv, args, name=""):
    """Warms (every key set once), then measures: (req/s, µs of server CPU per request,
    errors)."""
    base = CLIENT_PIN([LOAD, "--server", f"127.0.0.1:{srv.port}"] + args)
    subprocess.run(base + ["--requests", "0", "--warm"], capture_output=True, timeout=600)
    before = srv.cpu()
    workers = srv.workers() if srv.kind == "slabd" else {}
    rec = perf_start(srv, name)
    counting = count_start(srv)
    client = children_cpu()
    out = subprocess.run(base, capture_output=True, text=True, timeout=600).stdout
    client = children_cpu() - client
    perf_stop(rec)
    cpu = srv.cpu() - before
    j = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
    count_stop(counting, j["completed"])
    CLIENT.append(client * 1e6 / max(j["completed"], 1))
    PLACED.append(srv.placement(workers))
    return j["ops_per_sec"], cpu * 1e6 / max(j["completed"], 1), j["errors"]


def memcaslap(srv, seconds, binary, value=100, sets=0.1, window=None, warm=0):
    """memcaslap, 50 connections: `value`-byte values, `sets` the share of sets, `window`
    keys per connection (memcaslap's -w; its default 10k). `warm`: seconds of sets only
    first, unmeasured, so the item memory is written once before the measured run."""
    def argv_for(secs, share):
        cfg = f"/tmp/memcached-parity-memcaslap-{value}-{share}.cfg"
        with open(cfg, "w") as f:
            f.write(f"key\n32 32 1\nvalue\n{value} {value} 1\ncmd\n0 {share}\n"
                    f"1 {1 - share:.2f}\n")
        argv = CLIENT_PIN(["memcaslap", "-s", f"127.0.0.1:{srv.port}", "-c", "50", "-T", "1",
                           "-t", f"{secs}s", "-F", cfg] + (["-B"] if binary else []))
        return argv + (["-w", str(window)] if window else [])
    if warm:
        # A value's first write into never-touched item memory costs a page fault and the
        # page's zeroing, which on this VM (virtio-balloon free page reporting: the host
        # takes free 2 MiB blocks back) is ~2.3 s of CPU per GiB, more than the rest of a
        # 1 MiB run: a run that fills -m while measured charges that once-per-process cost
        # to whichever server got the colder memory. Warm both alike.
        subprocess.run(argv_for(warm, 0.99), capture_output=True, timeout=warm + 60)
    argv = argv_for(seconds, sets)
    before = srv.cpu()
    rec = perf_start(srv, f"memcaslap-{value}" + ("-binary" if binary else ""))
    client = children_cpu()
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60).stdout
    client = children_cpu() - client
    perf_stop(rec)
    cpu = srv.cpu() - before
    m = re.search(r"Run time: [\d.]+s Ops: (\d+) TPS: (\d+)", out)
    if not m:
        return None
    ops, tps = int(m.group(1)), int(m.group(2))
    CLIENT.append(client * 1e6 / max(ops, 1))
    return tps, cpu * 1e6 / max(ops, 1)


def shifting(kind, mem):
    """Fills -m with 100 B values, flushes, fills with 10 KiB values: (100 B items, share of
    the 10 KiB keys that read back as hits, evictions)."""
    srv = Server(kind, ["-m", str(mem)])
    try:
        base = [LOAD, "--server", f"127.0.0.1:{srv.port}", "--conns", "8", "--key-size", "32"]
        big_keys = mem * 160
        subprocess.run(base + ["--keys", str(mem * 12000), "--value-size", "100",
                               "--requests", "0", "--warm"], capture_output=True, timeout=600)
        small = srv.stat("curr_items")
        srv.talk(b"flush_all\r\n")
        time.sleep(1.1)
        subprocess.run(base + ["--keys", str(big_keys), "--value-size", "10240",
                               "--requests", "0", "--warm"], capture_output=True, timeout=600)
        out = subprocess.run(base + ["--keys", str(big_keys), "--value-size", "10240",
                                     "--get-ratio", "1", "--requests", str(4 * big_keys)],
                             capture_output=True, text=True, timeout=600).stdout
        j = json.loads(next(l for l in out.splitlines() if l.startswith("{")))
        return small, j["hit_ratio"] * big_keys, srv.stat("evictions")
    finally:
        srv.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--perf", default=None)
    ap.add_argument("--syscalls", action="store_true",
                    help="system calls and context switches per request of each server")
    ap.add_argument("--pin", action="store_true",
                    help="servers on CPU 0 with -t 1, the load generator on CPU 1")
    ap.add_argument("--warm", type=int, default=3,
                    help="seconds of sets before each measured large-value memcaslap run (0: none)")
    o = ap.parse_args()
    global PERF_DIR, PIN, SYSCALLS
    PERF_DIR = o.perf
    SYSCALLS = o.syscalls
    PIN = o.pin
    d = str(o.duration)
    rows = []
    cases = [
        ("1 KiB values, 50% set, 50 conns", ["-m", "1024"],
         ["--conns", "50", "--keys", "100000", "--value-size", "1024", "--get-ratio", "0.5",
          "--duration", d]),
        ("100 KiB values, 50% set, 50 conns", ["-m", "1024"],
         ["--conns", "50", "--keys", "2000", "--value-size", "102400", "--get-ratio", "0.5",
          "--duration", d]),
        ("1 MiB values, 50% set, 50 conns", ["-m", "1024", "-I", "2m"],
         ["--conns", "50", "--keys", "200", "--value-size", "1048576", "--get-ratio", "0.5",
          "--duration", d]),
    ]
    for title, flags, args in cases:
        if o.only not in title:
            continue
        res = {"slabd": [], "memcached": []}
        for r in range(o.rounds):
            for kind in ("slabd", "memcached") if r % 2 == 0 else ("memcached", "slabd"):
                srv = Server(kind, flags)
                try:
                    ops, cpu, errors = load(srv, args, title)
                finally:
                    srv.stop()
                if errors:
                    print(f"   ! {kind} {title}: {errors} errors")
                print(f"   round {r + 1} {kind} {title}: {ops:,.0f} req/s, {cpu:.1f} µs CPU/req"
                      f" (client {CLIENT[-1]:.1f} µs/req){PLACED[-1]}", flush=True)
                res[kind].append((ops, cpu))
        rows.append((title, res))
    # Binary-protocol large values: memcaslap -B (slabd-load speaks text only). Its smallest
    # window is 1k keys per connection, 50k keys in all: more than -m holds, so many gets
    # miss (for both servers alike).
    for title, binary, flags, shape in (
            ("memcaslap 90% get / 10% set, 100 B", False, ["-m", "256"], {}),
            ("memcaslap --binary 90% get / 10% set, 100 B", True, ["-m", "256"], {}),
            ("memcaslap --binary 100 KiB values, 50% set", True, ["-m", "1024"],
             {"value": 102400, "sets": 0.5, "window": "1k", "warm": o.warm}),
            ("memcaslap --binary 1 MiB values, 50% set", True, ["-m", "1024", "-I", "2m"],
             {"value": 1048576, "sets": 0.5, "window": "1k", "warm": o.warm})):
        if o.only not in title:
            continue
        res = {"slabd": [], "memcached": []}
        for r in range(o.rounds):
            for kind in ("slabd", "memcached") if r % 2 == 0 else ("memcached", "slabd"):
                srv = Server(kind, flags)
                try:
                    got = memcaslap(srv, o.duration, binary, **shape)
                finally:
                    srv.stop()
                if got:
                    print(f"   round {r + 1} {kind} {title}: {got[0]:,.0f} req/s, "
                          f"{got[1]:.1f} µs CPU/req (client {CLIENT[-1]:.1f} µs/req)", flush=True)
                    res[kind].append(got)
        rows.append((title, res))
    # The ceiling: the same connection loop answering fixed bytes (`-o null_server`: END to
    # every get, STORED to every set), so the text memcaslap row reads against it.
    ceiling = None
    if o.only in "memcaslap 90% get / 10% set, 100 B (null-server ceiling)":
        got = []
        for _ in range(o.rounds):
            srv = Server("null", ["-m", "256"])
            try:
                r = memcaslap(srv, o.duration, False)
            finally:
                srv.stop()
            if r:
                got.append(r)
        if got:
            ceiling = sorted(got)[len(got) // 2]
    shift = {}
    if o.only in "shifting size mix":
        print(f"load before shifting: {open('/proc/loadavg').read().split()[:3]}")
        shift = {k: shifting(k, 64) for k in ("slabd", "memcached")}
    print("| workload | slabd req/s | memcached req/s | ratio | slabd µs CPU/req | memcached µs CPU/req | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    med = lambda xs: sorted(xs)[len(xs) // 2] if xs else 0
    for title, res in rows:
        s_t, m_t = med([x[0] for x in res["slabd"]]), med([x[0] for x in res["memcached"]])
        s_c, m_c = med([x[1] for x in res["slabd"]]), med([x[1] for x in res["memcached"]])
        print(f"| {title} | {s_t:,.0f} | {m_t:,.0f} | {s_t / max(m_t, 1):.2f} | {s_c:.1f} | "
              f"{m_c:.1f} | {s_c / max(m_c, 1e-9):.2f} |")
    if ceiling:
        text = dict(rows).get("memcaslap 90% get / 10% set, 100 B")
        s_t = med([x[0] for x in text["slabd"]]) if text else 0
        s_c = med([x[1] for x in text["slabd"]]) if text else 0
        print(f"null-server ceiling (memcaslap text, slabd -o null_server): {ceiling[0]:,.0f} "
              f"req/s, {ceiling[1]:.1f} µs CPU/req; slabd at {s_t / max(ceiling[0], 1):.2f} "
              f"of its throughput, {s_c / max(ceiling[1], 1e-9):.2f}× its CPU per request")
    for k, (small, big, ev) in shift.items():
        print(f"shifting -m 64 {k}: 100 B items before flush {small}, 10 KiB items readable "
              f"after ({64 * 160} written) {big:,.0f}, evictions {ev}")
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    sys.exit(main())
