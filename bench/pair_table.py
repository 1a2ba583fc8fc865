#!/usr/bin/env python3
"""pair_table.py: the markdown section of a two-configuration run of bench.sh
(`make bench-tls`, `make bench-ab`) from its result rows.

    bench/pair_table.py --kind tls|ab --title T --command C --rounds N [--note X] RESULTS.tsv

tls: rows labelled "vesper" (plain HTTP) and "vesper-tls" (HTTPS to clients, mutual TLS
between the nodes); ab: rows labelled "vesper-a" and "vesper-b" (two vesperd builds).
Rows are grouped by workload and connection count; each cell is the median over the
rounds, and the ratio column is second / first.
"""
import argparse
import csv
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=("tls", "ab"), required=True)
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("tsv")
    a = ap.parse_args()
    first, second = ("vesper", "vesper-tls") if a.kind == "tls" else ("vesper-a", "vesper-b")
    name = {first: "plain", second: "TLS"} if a.kind == "tls" else {first: "A", second: "B"}
    runs = {}
    with open(a.tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["system"] not in (first, second):
                continue
            key = (row["workload"], int(row["conns"]), row["system"])
            runs.setdefault(key, []).append(row)
    shapes = sorted({(w, c) for (w, c, _) in runs}, key=lambda x: (x[0] != "put", x[1]))
    if not shapes:
        print("no vesper rows in %s" % a.tsv, file=sys.stderr)
        return 1

    def med(rows, col):
        vals = [float(r[col]) for r in rows if r[col] not in ("", "-")]
        return statistics.median(vals) if vals else float("nan")

    if a.kind == "tls":
        out = [f"## TLS cost — {a.title}, `{a.command}`", ""]
        what = ("plain HTTP vs HTTPS to clients + mutual TLS between the nodes (ECDSA P-256 "
                "development certificates, TLS 1.3, keep-alive connections)")
    else:
        out = [f"## Two builds — {a.title}, `{a.command}`", ""]
        what = "build A vs build B of vesperd"
    out.append(
        f"3-node Vesper on 127.0.0.1, {what}, "
        f"alternating clusters, median of {a.rounds} rounds per cell; same wrk workload and "
        f"connection counts for both; the two cores are shared with the cluster's three "
        f"servers and wrk (and other work on the machine), so single runs vary by 20-30%. "
        f"{a.note}."
    )
    out.append("")
    x, y = name[first], name[second]
    out.append(f"| workload | conns | {x} ops/s | {y} ops/s | {y}/{x} | p50 ms {x} / {y} "
               f"| p99 ms {x} / {y} | errors {x} / {y} |")
    out.append("|---|---|---|---|---|---|---|---|")
    for w, c in shapes:
        p = runs.get((w, c, first), [])
        t = runs.get((w, c, second), [])
        rp, rt = med(p, "rps"), med(t, "rps")
        ratio = rt / rp if rp else float("nan")
        out.append(
            f"| {w} | {c} | {rp:,.0f} | {rt:,.0f} | {ratio:.2f}x | "
            f"{med(p, 'p50_us') / 1000:.2f} / {med(t, 'p50_us') / 1000:.2f} | "
            f"{med(p, 'p99_us') / 1000:.2f} / {med(t, 'p99_us') / 1000:.2f} | "
            f"{sum(int(r['errors']) for r in p)} / {sum(int(r['errors']) for r in t)} |"
        )
    out.append("")
    rounds = []
    for w, c in shapes:
        for label in (first, second):
            vals = ", ".join(r["rps"] for r in runs.get((w, c, label), []))
            rounds.append(f"{w} c{c} {name[label]}: {vals}")
    out.append("Every round (ops/s, in run order): " + "; ".join(rounds) + ".")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
