#!/usr/bin/env python3
"""api_table.py: the markdown section of `make bench-api` from bench/api.sh's result rows.

    bench/api_table.py --title T --command C --rounds N [--note X] [--lease-skipped WHY]
                       RESULTS.tsv WATCH.tsv

RESULTS.tsv holds one wrk row per run (bench/lib.sh columns; workloads "range" and
"lput"), WATCH.tsv one build/watch-fanout row per run. Each cell is the median over the
rounds with the spread [min-max] when there was more than one round, as
"etcd / Vesper (Vesper÷etcd of the medians)". Throughput ratios above 1 mean Vesper is
faster, latency ratios above 1 that it is slower.
"""
import argparse
import csv
import statistics
import sys

SYSTEMS = ("etcd", "vesper")


def load(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt(v, kind):
    if v is None:
        return "–"
    if kind == "int":
        return f"{v:,.0f}"
    return f"{v:.2f}" if v < 100 else f"{v:,.0f}"


def summary(vals, kind):
    """(median, text): the median and "median [min–max]" (no spread for one value)."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None, "–"
    m = statistics.median(vals)
    if len(vals) == 1 or min(vals) == max(vals):
        return m, fmt(m, kind)
    return m, f"{fmt(m, kind)} [{fmt(min(vals), kind)}–{fmt(max(vals), kind)}]"


def cell(by_system, kind, ratio=True, missing="–"):
    """by_system: {system: [values]} -> "etcd / Vesper (ratio)"."""
    (em, et), (vm, vt) = (summary(by_system.get(s, []), kind) for s in SYSTEMS)
    if vm is None:
        vt = missing
    text = f"{et} / {vt}"
    if ratio and em and vm is not None:
        text += f" ({vm / em:.2f}×)"
    return text


def kv_table(rows, span, lease_skipped):
    names = {"range": f"range of {span} keys (lin.)", "lput": "leased PUT"}
    cols = [("ops/s", lambda r: num(r["rps"]), "int", True),
            ("keys/s", lambda r: num(r["rps"]) * span if r["workload"] == "range" else None,
             "int", True),
            ("p50 ms", lambda r: num(r["p50_us"]) / 1000, "ms", True),
            ("p99 ms", lambda r: num(r["p99_us"]) / 1000, "ms", True),
            ("errors", lambda r: num(r["errors"]), "int", False)]
    out = ["| workload | conns | " + " | ".join(c[0] for c in cols) + " |",
           "|---|---:|" + "---:|" * len(cols)]
    shapes = sorted({(r["workload"], int(r["conns"])) for r in rows if r["system"] in SYSTEMS},
                    key=lambda s: (list(names).index(s[0]) if s[0] in names else 9, s[1]))
    for wl, conns in shapes:
        sel = [r for r in rows if r["workload"] == wl and int(r["conns"]) == conns]
        missing = "skipped" if wl == "lput" and lease_skipped else "–"
        cells = []
        for name, get, kind, ratio in cols:
            vals = {s: [get(r) for r in sel if r["system"] == s] for s in SYSTEMS}
            if name == "keys/s" and wl != "range":
                cells.append("")
                continue
            if name == "errors":  # the total over the rounds, not a median
                vals = {s: [sum(v for v in vs if v is not None)] if vs else [] for s, vs in
                        vals.items()}
            cells.append(cell(vals, kind, ratio, missing))
        out.append(f"| {names.get(wl, wl)} | {conns} | " + " | ".join(cells) + " |")
    return out


def watch_table(rows):
    cols = [("PUTs/s", lambda r: num(r["puts"]) / num(r["write_secs"]), "int", True),
            ("events/s delivered", lambda r: num(r["events_per_s"]), "int", True),
            ("lag p50 ms", lambda r: num(r["lag_p50_us"]) / 1000, "ms", True),
            ("lag p99 ms", lambda r: num(r["lag_p99_us"]) / 1000, "ms", True),
            ("lag max ms", lambda r: num(r["lag_max_us"]) / 1000, "ms", True),
            ("lag p50 ms on the leader", lambda r: num(r["lag_leader_p50_us"]) / 1000, "ms", True),
            ("lag p50 ms on followers", lambda r: num(r["lag_followers_p50_us"]) / 1000, "ms",
             True),
            ("watchers with every event", lambda r: num(r["complete"]), "int", False),
            ("events missing", lambda r: num(r["expected"]) - num(r["delivered"]), "int", False),
            ("server CPU s", lambda r: num(r["cpu_s"]), "ms", True)]
    out = ["| watchers | target PUTs/s | " + " | ".join(c[0] for c in cols) + " |",
           "|---:|---:|" + "---:|" * len(cols)]
    shapes = sorted({(int(r["watchers"]), r["rate"]) for r in rows},
                    key=lambda s: (s[0], s[1] == "0", num(s[1]) or 0))
    for watchers, rate in shapes:
        sel = [r for r in rows if int(r["watchers"]) == watchers and r["rate"] == rate]
        cells = [cell({s: [get(r) for r in sel if r["system"] == s] for s in SYSTEMS}, kind,
                      ratio) for _, get, kind, ratio in cols]
        target = "as fast as one connection" if rate == "0" else rate
        out.append(f"| {watchers} | {target} | " + " | ".join(cells) + " |")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--title", required=True)
    ap.add_argument("--command", required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--span", type=int, default=100)
    ap.add_argument("--keys", type=int, default=10000)
    ap.add_argument("--value-bytes", type=int, default=100)
    ap.add_argument("--note", default="")
    ap.add_argument("--lease-skipped", default="")
    ap.add_argument("tsv")
    ap.add_argument("watch_tsv")
    a = ap.parse_args()
    rows, wrows = load(a.tsv), load(a.watch_tsv)
    if not rows and not wrows:
        print("no result rows", file=sys.stderr)
        return 1
    secs = next((r["secs"] for r in rows), "?")
    out = [f"## Data API: etcd vs Vesper — {a.title}, `{a.command}`", ""]
    out.append(
        f"3-node etcd and 3-node Vesper on 127.0.0.1, fresh clusters each round, alternating "
        f"systems, {a.rounds} round(s); each cell is the median over the rounds "
        f"[min–max], as etcd / Vesper (Vesper÷etcd). Keys k00001..k{a.keys:05d} with "
        f"{a.value_bytes}-byte values written first; wrk runs of ~{float(secs or 0):.0f} s "
        f"against the leader. {a.note}.")
    out += ["", "Ranges (keys/s = ops/s × keys per range) and leased PUTs:", ""]
    out += kv_table(rows, a.span, a.lease_skipped)
    if a.lease_skipped:
        out += ["", f"Leased PUTs skipped for Vesper: lease_grant answered `{a.lease_skipped}`."]
    out += ["", "Watch fan-out (one process: the watchers, spread over the three nodes, and one "
            "writer on one connection to the leader; lag = from reading a PUT's answer to "
            "reading its event, 0 when the event came first):", ""]
    out += watch_table(wrows)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
