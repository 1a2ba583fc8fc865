#!/usr/bin/env python3
"""format.py: turns bench/bench.sh result rows (TSV) into the markdown section of RESULTS.md.

    bench/format.py [--title T] [--command C] [--vesper-pending 0|1] RESULTS.tsv

One main table, a row per (nodes, workload, connections). With both systems
present each cell reads "etcd / Vesper (Vesper/etcd)"; with one system it is
that system's value. A second table gives the physical limits (fdatasync
floor, no-op HTTP ceiling) and each system's throughput as a fraction of them.
Latency ratios above 1 mean Vesper is slower; throughput ratios above 1 mean
Vesper is faster; CPU and RSS ratios above 1 mean Vesper uses more.
"""
import argparse
import csv
import os
import platform
import subprocess

SYSTEMS = ("etcd", "vesper")
LABEL = {"etcd": "etcd", "vesper": "Vesper"}
WORKLOADS = {"put": "PUT", "get": "GET (lin.)", "mix": "90/10 mix"}


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def metrics(row):
    """The per-row metrics shown in the table, as floats (None when unknown)."""
    req, cpu = num(row["requests"]), num(row["cpu_s"])
    return {
        "ops/s": num(row["rps"]),
        "p50 ms": num(row["p50_us"]) / 1000,
        "p99 ms": num(row["p99_us"]) / 1000,
        "p99.9 ms": num(row["p999_us"]) / 1000,
        "CPU s/10k ops": cpu * 10000 / req if cpu is not None and req else None,
        "RSS MiB/node": num(row["rss_kib"]) / 1024 if num(row["rss_kib"]) else None,
        "errors": num(row["errors"]),
    }


def fmt(v, name):
    if v is None:
        return "–"
    if name in ("ops/s", "errors"):
        return f"{v:.0f}"
    if name == "RSS MiB/node":
        return f"{v:.1f}"
    return f"{v:.2f}" if v < 100 else f"{v:.0f}"


def cell(vals, name, present):
    if len(present) == 1:
        return fmt(vals.get(present[0]), name)
    e, v = vals.get("etcd"), vals.get("vesper")
    text = f"{fmt(e, name)} / {fmt(v, name)}"
    if name != "errors" and e and v is not None:
        text += f" ({v / e:.2f}×)"
    return text


def main_table(rows, present):
    by = {}
    for r in rows:
        if r["system"] in SYSTEMS:
            by[(r["nodes"], r["workload"], r["conns"], r["system"])] = metrics(r)
    keys = sorted({k[:3] for k in by}, key=lambda k: (int(k[0]), list(WORKLOADS).index(k[1])
                                                        if k[1] in WORKLOADS else 9, int(k[2])))
    names = ["ops/s", "p50 ms", "p99 ms", "p99.9 ms", "CPU s/10k ops", "RSS MiB/node", "errors"]
    out = ["| nodes | workload | conns | " + " | ".join(names) + " |",
           "|---:|---|---:|" + "---:|" * len(names)]
    for nodes, wl, conns in keys:
        vals = {s: by.get((nodes, wl, conns, s)) for s in present}
        cells = [cell({s: (m or {}).get(n) for s, m in vals.items()}, n, present) for n in names]
        out.append(f"| {nodes} | {WORKLOADS.get(wl, wl)} | {conns} | " + " | ".join(cells) + " |")
    return out


def best(rows, system, workload, nodes="3", conns=None):
    vals = [num(r["rps"]) for r in rows if r["system"] == system and r["workload"] == workload
            and r["nodes"] == nodes and (conns is None or r["conns"] == conns)]
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


# The disk's rows: fsync-floor plain (the file grows with each append), with
# --preallocate (the appends land in space fallocate reserved, as in vesperd's WAL), and
# three preallocated writers at once (a 3-node cluster's replicas on this one device).
DISK_ROWS = {
    "fsync": "disk: 100-byte append + fdatasync",
    "fsync-pre": "disk: 100-byte append into preallocated space + fdatasync",
    "fsync-pre-3": "disk: the same, three writers at once (each)",
}


def frac(x, limit):
    return f"{x / limit:.2f}" if x is not None and limit else "–"


def limits_table(rows, present):
    out = ["| limit | value | " + " | ".join(f"{LABEL[s]} 3-node as a fraction" for s in present)
           + " |", "|---|---:|" + "---|" * len(present)]
    for r in rows:
        if r["system"] in DISK_ROWS:
            rate = num(r["rps"])
            value = (f"{rate:.0f} fdatasync/s (p50 {r['p50_us']} µs, p99 {r['p99_us']} µs, "
                     f"p99.9 {r['p999_us']} µs)")
            fr = [f"best PUT {frac(best(rows, s, 'put'), rate)}" for s in present]
            out.append(f"| {DISK_ROWS[r['system']]} | " + value + " | " + " | ".join(fr) + " |")
    for r in rows:
        if r["system"] == "noop":
            c, rate = r["conns"], num(r["rps"])
            fr = [f"PUT {frac(best(rows, s, 'put', conns=c), rate)}, GET "
                  f"{frac(best(rows, s, 'get', conns=c), rate)}" for s in present]
            out.append(f"| HTTP no-op (vesperd GET /noop), {c} conns | {rate:.0f} req/s, p50 "
                       f"{num(r['p50_us']) / 1000:.3f} ms, p99 {num(r['p99_us']) / 1000:.2f} ms | "
                       + " | ".join(fr) + " |")
    return out


def host_line(tsv_path, with_etcd):
    parts = [f"{os.cpu_count()} cores", f"Linux {platform.release()}"]
    try:
        fs = subprocess.run(["df", "-T", os.path.dirname(os.path.abspath(tsv_path))],
                            capture_output=True, text=True, timeout=5).stdout.splitlines()[-1]
        parts.append(f"data on {fs.split()[1]} ({fs.split()[0]})")
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    try:
        if not with_etcd:
            return ", ".join(parts)
        v = subprocess.run(["etcd", "--version"], capture_output=True, text=True,
                           timeout=5).stdout.split("\n")[0]
        parts.append(v.replace("etcd Version:", "etcd").strip() + " (Debian etcd-server)")
    except (OSError, subprocess.SubprocessError):
        pass
    return ", ".join(parts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", default="")
    ap.add_argument("--command", default="")
    ap.add_argument("--vesper-pending", type=int, default=0)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--note", default="", help="one more sentence, e.g. which vesperd build")
    ap.add_argument("tsv")
    a = ap.parse_args()
    rows = load(a.tsv)
    present = [s for s in SYSTEMS if any(r["system"] == s for r in rows)]
    runs = [r for r in rows if r["system"] in SYSTEMS]
    secs = runs[0]["secs"] if runs else "?"
    title = f"## {a.title} — `{a.command}`"
    if a.vesper_pending:
        title += " (etcd only: build/vesperd was missing)"
    print(title)
    print()
    host = host_line(a.tsv, "etcd" in present)
    print(f"Host: {host}. Loopback, one wrk per run (~{float(secs):.0f} s, 1-2 "
          f"threads), keys k00001..k{a.keys:05d} uniform random, {a.value_bytes}-byte values, "
          "all keys preloaded, "
          "requests sent to the leader. Latency from wrk (ms); CPU = utime+stime of all server "
          "processes during the run; RSS = mean VmRSS per node after the run."
          + (f" {a.note}." if a.note else ""))
    if len(present) > 1:
        print("Cells: etcd / Vesper (Vesper÷etcd).")
    elif present:
        print(f"Cells: {LABEL[present[0]]} only.")
    print()
    print("\n".join(main_table(rows, present)))
    print()
    print("\n".join(limits_table(rows, present)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
