#!/usr/bin/env python3
"""Turns target/bench/runs.json into medians, ratios, CSV/JSON, docs/benchmarks.md and an
SVG chart. Run by scripts/bench after each suite; rerunnable on its own."""
import argparse
import csv
import html
import json
import os
import re
import statistics

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "target", "bench")
SERVERS = ("slabd", "memcached", "redis-server")
METRIC_NAMES = {"throughput": "throughput", "p99_us": "p99", "bytes_per_item": "RSS per item",
                "hit_ratio": "hit ratio"}
COLORS = {"slabd": "#3366cc", "memcached": "#33a02c", "redis-server": "#e31a1c"}


def medians(doc):
    """{case: {server: {metric: median}}} and the round counts behind them."""
    acc, counts = {}, {}
    for run in doc["runs"]:
        by_server = acc.setdefault(run["case"], {}).setdefault(run["server"], {})
        counts[(run["case"], run["server"])] = counts.get((run["case"], run["server"]), 0) + 1
        for k, v in run["metrics"].items():
            if isinstance(v, (int, float)):
                by_server.setdefault(k, []).append(v)
    med = {c: {s: {k: statistics.median(v) for k, v in m.items()} for s, m in ss.items()}
           for c, ss in acc.items()}
    return med, counts


def fmt(v, metric):
    if v is None:
        return "n/a"
    if metric == "hit_ratio":
        return f"{v:.4f}"
    if metric == "bytes_per_item":
        return f"{v:.1f}"
    if v >= 100:
        return f"{v:,.0f}"
    return f"{v:.1f}"


def rows(doc, med):
    out = []
    for case in doc["cases"]:
        m = med.get(case["id"], {})
        metric = case["metric"]
        vals = {s: m.get(s, {}).get(metric) for s in SERVERS}
        p99 = {s: m.get(s, {}).get("p99_us") for s in SERVERS}
        slabd, peer = vals["slabd"], vals[case["peer"]]
        ratio = slabd / peer if slabd is not None and peer else None
        out.append({"case": case, "values": vals, "p99": p99, "ratio": ratio})
    return out


def write_csv_json(doc, med, table):
    with open(os.path.join(OUT, "results.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["case", "title", "metric", "unit", "server", "median", "p99_us", "peer",
                    "slabd_over_peer"])
        for r in table:
            c = r["case"]
            for s in SERVERS:
                if r["values"][s] is None:
                    continue
                w.writerow([c["id"], c["title"], c["metric"], c["unit"], s, r["values"][s],
                            r["p99"][s] if r["p99"][s] is not None else "", c["peer"],
                            r["ratio"] if r["ratio"] is not None else ""])
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump({"machine": doc["machine"], "medians": med,
                   "ratios": {r["case"]["id"]: r["ratio"] for r in table}}, f, indent=1)


def print_table(table):
    print(f"{'case':<22} {'metric':<15} {'slabd':>12} {'memcached':>12} {'redis-server':>12}"
          f" {'slabd/peer':>10}")
    for r in table:
        c = r["case"]
        v = r["values"]
        ratio = f"{r['ratio']:.2f}" if r["ratio"] is not None else "n/a"
        print(f"{c['id']:<22} {c['metric']:<15} {fmt(v['slabd'], c['metric']):>12} "
              f"{fmt(v['memcached'], c['metric']):>12} {fmt(v['redis-server'], c['metric']):>12}"
              f" {ratio:>10}")


def svg_panel(table, metric_of, title, unit, y0, width):
    """One panel of horizontal bars, a group per case, each bar scaled to its group's
    largest value (cases differ by orders of magnitude); the figure is printed on it."""
    groups = [(r["case"], {s: metric_of(r, s) for s in SERVERS}) for r in table]
    groups = [(c, {s: v for s, v in vals.items() if v is not None}) for c, vals in groups]
    groups = [g for g in groups if g[1]]
    parts = [f'<text x="10" y="{y0 + 18}" font-size="15" font-weight="bold">'
             f'{html.escape(title)} ({html.escape(unit)})</text>']
    y = y0 + 30
    bar_x = 250
    bar_max = width - bar_x - 90
    for case, vals in groups:
        top = max(vals.values()) or 1
        parts.append(f'<text x="10" y="{y + 12}" font-size="12">'
                     f'{html.escape(case.get("short", case["title"])[:48])}</text>')
        for s, v in vals.items():
            w = max(1, bar_max * v / top)
            parts.append(f'<rect x="{bar_x}" y="{y}" width="{w:.1f}" height="12" '
                         f'fill="{COLORS[s]}"/>')
            parts.append(f'<text x="{bar_x + w + 4:.1f}" y="{y + 10}" font-size="10">'
                         f'{fmt(v, "")}</text>')
            y += 14
        y += 8
    return parts, y


def write_svg(table, path):
    width = 860
    tput, y = svg_panel(table, lambda r, s: r["values"][s] if r["case"]["metric"] == "throughput"
                        else None, "Throughput, median", "requests/s, longer is better", 0, width)
    lat, y = svg_panel(table, lambda r, s: r["p99"][s] if r["case"]["metric"] in
                       ("throughput", "p99_us") else None, "p99 latency, median",
                       "microseconds, shorter is better", y + 10, width)
    legend = []
    for i, s in enumerate(SERVERS):
        legend.append(f'<rect x="{10 + i * 150}" y="{y + 10}" width="12" height="12" '
                      f'fill="{COLORS[s]}"/><text x="{26 + i * 150}" y="{y + 21}" '
                      f'font-size="12">{s}</text>')
    body = "\n".join(tput + lat + legend)
    with open(path, "w") as f:
        f.write(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{y + 35}" '
                f'font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n'
                f'{body}\n</svg>\n')


def heading_key(heading):
    """What identifies a "## " section across rewrites: its first two words (a hand-run
    section's heading gains notes in parentheses as it is re-measured)."""
    return tuple(re.sub(r"[^\w/ -]", " ", heading[3:]).lower().split()[:2])


def split_sections(text):
    """(key, text) of each "## " section of a page (headings inside code blocks do not
    count)."""
    sections, fenced = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if line.startswith("## ") and not fenced:
            sections.append([line])
        elif sections:
            sections[-1].append(line)
    return [(heading_key(s[0]), "\n".join(s).strip("\n") + "\n") for s in sections]


def hand_sections(path, generated):
    """The sections that follow the generated ones: every "## " section of the page now
    at `path` that this script does not write (the hand-run benchmarks of other scripts —
    memcached parity, collections, semantics... — edited in the page by hand), in their
    order, then those of analysis.md and pubsub.md (kept beside this script) that the page
    does not have yet. A hand-edited section is never replaced by a file's older copy."""
    new = {heading_key(line) for line in "\n".join(generated).splitlines()
           if line.startswith("## ")}
    page = split_sections(open(path).read()) if os.path.exists(path) else []
    kept = [(k, t) for k, t in page if k not in new]
    have = new | {k for k, _ in kept}
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("analysis.md", "pubsub.md"):
        if os.path.exists(os.path.join(here, name)):
            with open(os.path.join(here, name)) as f:
                kept += [(k, t) for k, t in split_sections(f.read()) if k not in have]
    return [t for _, t in kept]


def write_markdown(doc, table, counts, path):
    m = doc["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `scripts/bench` (do not edit by hand: rerun it). Raw runs, medians and",
        "a CSV are in `target/bench/` after a run.",
        "",
        "## Method",
        "",
        f"- Every server runs on loopback with the same limits: `-m {doc['memory_mb']}`",
        f"  (redis-server: `maxmemory {doc['memory_mb']}mb`, `allkeys-lru`) and "
        f"`-t {doc['threads']}`.",
        f"  redis-server runs with `io-threads {doc.get('redis_io_threads', 1)}`: its I/O "
        "threads busy-poll, and on a",
        "  2-core machine shared with the client `io-threads 2` cut its throughput about",
        "  tenfold when tried.",
        "- Each workload runs against each server in alternating rounds (A B A B ...),",
        f"  {doc['rounds']} rounds of {doc['duration_s']} s each; the table shows medians.",
        "- The load generator is `slabd-load` (this crate, `src/bin/slabd-load.rs`): one mio",
        "  thread driving 50 connections, closed loop (next request after the reply) unless",
        "  stated. Keys are drawn uniformly unless stated; every key is set once before a",
        "  closed-loop run (`--warm`). Set values of 16 KiB and more are written from one",
        "  shared buffer with vectored writes, not copied per request. `memcaslap` and",
        "  `redis-benchmark` are run as shipped.",
        "- Workload 5 is open loop: each connection sends on a fixed schedule whatever the",
        "  replies, at 50 % and 90 % of memcached's median saturation throughput in workload",
        "  1, and latency counts from the scheduled send time (coordinated omission counted).",
        "- Workload 6 starts each server fresh at `-m 1024`, stores the items, and divides the",
        "  growth of VmRSS (from `/proc/PID/status`) by the items the server reports holding.",
        "- Workload 7 starts each server fresh at `-m 64`; clients get a Zipf(0.9) key and on",
        "  a miss set it (cache-aside). Value sizes are log-uniform over 32 B - 16 KiB, fixed",
        "  per key. A first run fills the cache; the second run's hit ratio is reported.",
        "- The client tools share the machine's cores with the servers, so absolute figures",
        "  understate what a server does on its own; the ratios are the point.",
        "",
        "## Rerunning",
        "",
        "```sh",
        "scripts/bench                  # everything, then rewrites this page and its chart",
        "scripts/bench --quick          # smoke run, results under target/bench/ only",
        "scripts/bench --rounds 5 --duration 10 --only throughput",
        "target/release/slabd-load --server 127.0.0.1:11211 --conns 50 --get-ratio 0.9 \\",
        "    --value-size 100 --warm --duration 10         # one run; --help for the rest",
        "target/release/slabd-load --server 127.0.0.1:11211 --rate 30000 --duration 10",
        "```",
        "",
        "## Machine",
        "",
        f"- CPU: {m['cpu']}, {m['nproc']} logical CPUs (`nproc`), {m['mem_gb']} GiB RAM,"
        f" Linux {m['kernel']}",
        f"- {m['memcached']}; {m['redis'].split(' sha=')[0]}; slabd at `{m['slabd']}`",
        f"- 1-minute load average {m.get('loadavg_before', 0):.1f} before the suite, "
        f"{m.get('loadavg_after', 0):.1f} after (the servers and clients alone add about 2)",
        f"- Suite wall time: {doc['wall_s']} s"
        + (" (smoke run: `--quick`, figures meaningless)" if doc["quick"] else ""),
        "",
        "## Results",
        "",
        "Throughput in requests per second (a multi-get is one request), latency in",
        "microseconds. The ratio is slabd's median over the peer's; above 1 is better for",
        "throughput and hit ratio, below 1 is better for latency and memory.",
        "",
        "| # | workload | metric | slabd | memcached | redis-server | slabd / peer |"
        " p99 µs slabd / peer |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in table:
        c = r["case"]
        v = r["values"]
        unit = f" ({c['unit']})" if c["unit"] else ""
        ratio = f"{r['ratio']:.2f} (vs {c['peer']})" if r["ratio"] is not None else "n/a"
        p99 = r["p99"]
        p99s = (f"{fmt(p99['slabd'], 'p99_us')} / {fmt(p99[c['peer']], 'p99_us')}"
                if p99["slabd"] is not None or p99[c["peer"]] is not None else "")
        metric = METRIC_NAMES.get(c["metric"], c["metric"])
        lines.append(f"| {c['id'].split('-')[0]} | {c['title']} | {metric}{unit} | "
                     f"{fmt(v['slabd'], c['metric'])} | {fmt(v['memcached'], c['metric'])} | "
                     f"{fmt(v['redis-server'], c['metric'])} | {ratio} | {p99s} |")
    open_loop = [r for r in table if r["case"]["id"].startswith("5-")]
    if open_loop:
        lines += ["", "Open-loop latency percentiles (µs, medians of the rounds):", "",
                  "The last column is how late the client itself sent its p99 request: when it",
                  "is near the p99, the machine (not the server) made the tail.", "",
                  "| offered load | server | p50 | p99 | p99.9 | client send lag p99 |",
                  "|---|---|---:|---:|---:|---:|"]
        med = doc["_medians"]
        for r in open_loop:
            for s in SERVERS:
                mm = med.get(r["case"]["id"], {}).get(s)
                if mm:
                    lag = mm.get("send_lag_p99_us")
                    lag = f"{lag:.0f}" if lag is not None else "n/a"
                    lines.append(f"| {r['case']['title']} | {s} | {mm['p50_us']:.0f} | "
                                 f"{mm['p99_us']:.0f} | {mm['p999_us']:.0f} | {lag} |")
    if doc["skipped"]:
        lines += ["", "Not measured in this run:", ""] + [f"- {s}" for s in doc["skipped"]]
    lines += ["", "![throughput and p99 per workload](benchmarks.svg)", ""]
    # Profiles and hand-run benchmarks are read by a person, not computed: they are carried
    # into every regenerated page (check they still match the figures).
    lines += hand_sections(path, lines)
    with open(path, "w") as f:
        f.write("\n".join(lines))


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", action="store_true", help="also write docs/benchmarks.{md,svg}")
    o = ap.parse_args()
    with open(os.path.join(OUT, "runs.json")) as f:
        doc = json.load(f)
    med, counts = medians(doc)
    doc["_medians"] = med
    table = rows(doc, med)
    write_csv_json(doc, med, table)
    write_svg(table, os.path.join(OUT, "benchmarks.svg"))
    print_table(table)
    if o.docs:
        os.makedirs(os.path.join(ROOT, "docs"), exist_ok=True)
        write_markdown(doc, table, counts, os.path.join(ROOT, "docs", "benchmarks.md"))
        write_svg(table, os.path.join(ROOT, "docs", "benchmarks.svg"))
        print("wrote docs/benchmarks.md and docs/benchmarks.svg")


if __name__ == "__main__":
    main()
