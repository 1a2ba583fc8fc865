#!/usr/bin/env python3
"""tls_table.py: the markdown section of `make bench-tls` from bench.sh's result rows.

    bench/tls_table.py --title T --command C --rounds N [--note X] RESULTS.tsv

Rows labelled "vesper" (plain HTTP) and "vesper-tls" (HTTPS to clients, mutual TLS between
the nodes) are grouped by workload and connection count; each cell is the median over the
rounds, and the ratio column is TLS / plain.
"""
import argparse
import csv
import statistics
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--note", default="")
    ap.add_argument("tsv")
    a = ap.parse_args()
    runs = {}
    with open(a.tsv, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row["system"] not in ("vesper", "vesper-tls"):
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

    out = [f"## TLS cost — {a.title}, `{a.command}`", ""]
    out.append(
        f"3-node Vesper on 127.0.0.1, plain HTTP vs HTTPS to clients + mutual TLS between the "
        f"nodes (ECDSA P-256 development certificates, TLS 1.3, keep-alive connections), "
        f"alternating clusters, median of {a.rounds} rounds per cell; same wrk workload and "
        f"connection counts for both; the two cores are shared with the cluster's three "
        f"servers and wrk (and other work on the machine), so single runs vary by 20-30%. "
        f"{a.note}."
    )
    out.append("")
    out.append("| workload | conns | plain ops/s | TLS ops/s | TLS/plain | p50 ms plain / TLS "
               "| p99 ms plain / TLS | errors plain / TLS |")
    out.append("|---|---|---|---|---|---|---|---|")
    for w, c in shapes:
        p = runs.get((w, c, "vesper"), [])
        t = runs.get((w, c, "vesper-tls"), [])
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
        for label in ("vesper", "vesper-tls"):
            vals = ", ".join(r["rps"] for r in runs.get((w, c, label), []))
            rounds.append(f"{w} c{c} {'TLS' if label == 'vesper-tls' else 'plain'}: {vals}")
    out.append("Every round (ops/s, in run order): " + "; ".join(rounds) + ".")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
