#!/usr/bin/env python3
"""Prints the backup benchmark's --growth results: how each tool's time grows with the repository.

usage: growth_table.py RESULTS.tsv [OUT.json]   (rows: tool, PHASE@SNAPSHOTS, unit, value[, run])

For each phase (snapshots, check, forget) and each size, every tool's wall time, CPU time and peak
RSS (medians over the runs), then its growth: the figure at that size over the figure at the first
size. The target is that nightshift's CPU time grows no faster than restic's, within 10% (wall time
on a shared machine is noisier; it is shown too).
"""
import json
import sys

PHASES = [("snapshots", "snapshots"), ("check", "check"), ("forget", "forget --keep-last 10 --prune")]


def median(vs):
    vs = sorted(vs)
    n = len(vs)
    return vs[n // 2] if n % 2 else (vs[n // 2 - 1] + vs[n // 2]) / 2


def main():
    runs = {}  # (tool, phase, size, unit) -> [values]
    for line in open(sys.argv[1]):
        cols = line.rstrip("\n").split("\t")
        tool, phase_at, unit, value = cols[:4]
        if "@" not in phase_at:
            continue
        phase, size = phase_at.split("@")
        runs.setdefault((tool, phase, int(size), unit), []).append(float(value))
    data = {k: median(v) for k, v in runs.items()}
    tools = [t for t in ["nightshift", "restic"] if any(k[0] == t for k in data)]
    sizes = sorted({k[2] for k in data})
    n_runs = max(len(v) for v in runs.values())
    print(f"median of {n_runs} run{'s' if n_runs != 1 else ''}; growth = figure / figure at {sizes[0]} snapshots")
    header = ["phase", "snapshots"] + [f"{t} wall / CPU s (growth), RSS MiB" for t in tools]
    rows = []
    verdicts = []
    for phase, label in PHASES:
        for n in sizes:
            cells = [label if n == sizes[0] else "", str(n)]
            for t in tools:
                w = data.get((t, phase, n, "seconds"))
                c = data.get((t, phase, n, "cpu_seconds"))
                r = data.get((t, phase, n, "rss_kib"))
                if w is None:
                    cells.append("-")
                    continue
                w0 = data.get((t, phase, sizes[0], "seconds")) or 0
                c0 = data.get((t, phase, sizes[0], "cpu_seconds")) or 0
                gw = f"{w / w0:.2f}x" if w0 else "-"
                gc = f"{c / c0:.2f}x" if c0 else "-"
                cells.append(f"{w:.2f} / {c:.2f} ({gw} / {gc}), {r / 1024:.0f}")
            rows.append(cells)
        last = sizes[-1]
        g = {}
        for t in tools:
            c0 = data.get((t, phase, sizes[0], "cpu_seconds"))
            c1 = data.get((t, phase, last, "cpu_seconds"))
            if c0 and c1 is not None:
                g[t] = c1 / c0
        if "nightshift" in g and "restic" in g:
            # Within the noise of CPU timing; a time that does not grow at all (<= 1x) is never a miss.
            ok = g["nightshift"] <= max(g["restic"], 1.0) * 1.1
            verdicts.append(
                f"{label}: CPU time grew {g['nightshift']:.2f}x (nightshift) vs {g['restic']:.2f}x (restic)"
                f" from {sizes[0]} to {last} snapshots: {'ok' if ok else 'MISS'}"
            )
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    for v in verdicts:
        print(v)
    if len(sys.argv) > 2:
        out = {f"{t}.{p}@{n}.{u}": v for (t, p, n, u), v in data.items()}
        json.dump(out, open(sys.argv[2], "w"), indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
