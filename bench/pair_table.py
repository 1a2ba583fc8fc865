#!/usr/bin/env python3
"""pair_table.py: the markdown section of a two-configuration run of bench.sh
(`make bench-tls`, `make bench-ab`, `make bench-compare` with BENCH_ROUNDS) from its
result rows.

    bench/pair_table.py --kind tls|ab|compare --title T --command C --rounds N [--note X] RESULTS.tsv

tls: rows labelled "vesper" (plain HTTP) and "vesper-tls" (HTTPS to clients, mutual TLS
between the nodes); ab: rows labelled "vesper-a" and "vesper-b" (two vesperd builds);
compare: rows labelled "etcd" and "vesper", 3 and 5 nodes. Rows are grouped by node
count, workload and connection count; each cell is the median over the rounds with the
spread [min-max] of the ops/s, and the ratio column is second / first.
"""
import argparse
import csv
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=("tls", "ab", "compare"), required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("tsv")
    a = ap.parse_args()
    first, second = {"tls": ("vesper", "vesper-tls"), "ab": ("vesper-a", "vesper-b"),
                     "compare": ("etcd", "vesper")}[a.kind]
    name = {"tls": {first: "plain", second: "TLS"}, "ab": {first: "A", second: "B"},
            "compare": {first: "etcd", second: "Vesper"}}[a.kind]
    runs = {}
    with open(a.tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["system"] not in (first, second):
                continue
            key = (int(row["nodes"]), row["workload"], int(row["conns"]), row["system"])
            runs.setdefault(key, []).append(row)
    shapes = sorted({(n, w, c) for (n, w, c, _) in runs},
                    key=lambda x: (x[0], x[1] != "put", x[2]))
    if not shapes:
        print("no vesper rows in %s" % a.tsv, file=sys.stderr)
        return 1

    def med(rows, col):
        vals = [float(r[col]) for r in rows if r[col] not in ("", "-")]
        return statistics.median(vals) if vals else float("nan")

    if a.kind == "tls":
        out = [f"## TLS cost — {a.title}, `{a.command}`", ""]
        what = ("3-node Vesper on 127.0.0.1, plain HTTP vs HTTPS to clients + mutual TLS "
                "between the nodes (ECDSA P-256 development certificates, TLS 1.3, keep-alive "
                "connections)")
    elif a.kind == "ab":
        out = [f"## Two builds — {a.title}, `{a.command}`", ""]
        what = "3-node Vesper on 127.0.0.1, build A vs build B of vesperd"
    else:
        out = [f"## etcd vs Vesper — {a.title}, `{a.command}`", ""]
        what = "etcd 3.4 and Vesper on 127.0.0.1"
    out.append(
        f"{what}, alternating clusters, median of {a.rounds} rounds per cell [min-max of "
        f"the rounds]; same wrk workload and connection counts for both; the two cores are "
        f"shared with the cluster's servers and wrk (and other work on the machine), so "
        f"single runs vary by 20-30%. {a.note}."
    )
    out.append("")
    x, y = name[first], name[second]
    out.append(f"| nodes | workload | conns | {x} ops/s | {y} ops/s | {y}/{x} "
               f"| p50 ms {x} / {y} | p99 ms {x} / {y} | errors {x} / {y} |")
    out.append("|---|---|---|---|---|---|---|---|---|")

    def spread(rows):
        vals = [float(r["rps"]) for r in rows]
        return f" [{min(vals):,.0f}-{max(vals):,.0f}]" if len(vals) > 1 else ""

    for n, w, c in shapes:
        p = runs.get((n, w, c, first), [])
        t = runs.get((n, w, c, second), [])
        rp, rt = med(p, "rps"), med(t, "rps")
        ratio = rt / rp if rp else float("nan")
        out.append(
            f"| {n} | {w} | {c} | {rp:,.0f}{spread(p)} | {rt:,.0f}{spread(t)} | {ratio:.2f}x | "
            f"{med(p, 'p50_us') / 1000:.2f} / {med(t, 'p50_us') / 1000:.2f} | "
            f"{med(p, 'p99_us') / 1000:.2f} / {med(t, 'p99_us') / 1000:.2f} | "
            f"{sum(int(r['errors']) for r in p)} / {sum(int(r['errors']) for r in t)} |"
        )
    out.append("")
    rounds = []
    for n, w, c in shapes:
        for label in (first, second):
            vals = ", ".join(r["rps"] for r in runs.get((n, w, c, label), []))
            rounds.append(f"{n} nodes {w} c{c} {name[label]}: {vals}")
    out.append("Every round (ops/s, in run order): " + "; ".join(rounds) + ".")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
