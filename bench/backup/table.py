#!/usr/bin/env python3
"""Prints the backup benchmark's results as a table of figures and ratios to restic.

usage: table.py RESULTS.tsv [OUT.json]   (rows: tool, phase, unit, value[, run])

Each figure is the median over the runs; with more than one run, its spread (max - min, as a
percentage of the median) follows in brackets. Ratios compare medians.
"""
import json
import sys

TARGETS = {  # ratio to restic that nightshift must not exceed
    ("first", "seconds"): 0.7,
    ("incr", "seconds"): 1.0,
    ("incr", "bytes"): 1.0,
    ("nochange", "seconds"): 0.5,
    ("restore", "seconds"): 0.7,
    ("first", "bytes"): 1.0,
    ("peak", "rss_kib"): 1.2,
}
SCALE_TARGETS = {  # --scale: a million small files
    ("first", "seconds"): 1.0,
    ("nochange", "seconds"): 1.0,
    ("restore1", "seconds"): 1.0,
    ("check", "seconds"): 1.0,
    ("peak", "rss_kib"): 1.2,
}
ROWS = [
    ("first", "seconds", "first backup (s)"),
    ("first", "bytes", "repo size after v1 (MiB)"),
    ("incr", "seconds", "incremental backup (s)"),
    ("incr", "bytes", "repo growth v1->v2 (MiB)"),
    ("nochange", "seconds", "no-change backup (s)"),
    ("restore", "seconds", "restore (s)"),
    ("check", "seconds", "check --read-data (s)"),
    ("first", "cpu_seconds", "first backup, CPU (s)"),
    ("incr", "cpu_seconds", "incremental, CPU (s)"),
    ("nochange", "cpu_seconds", "no-change, CPU (s)"),
    ("restore", "cpu_seconds", "restore, CPU (s)"),
    ("check", "cpu_seconds", "check --read-data, CPU (s)"),
    ("restore1", "seconds", "restore of one directory (s)"),
    ("check", "seconds", "check (s)"),
    ("restore1", "cpu_seconds", "restore of one directory, CPU (s)"),
    ("peak", "rss_kib", "peak RSS, any phase (MiB)"),
]


def median(vs):
    vs = sorted(vs)
    n = len(vs)
    return vs[n // 2] if n % 2 else (vs[n // 2 - 1] + vs[n // 2]) / 2


def main():
    runs = {}  # (tool, phase, unit) -> {run: value}
    for line in open(sys.argv[1]):
        cols = line.rstrip("\n").split("\t")
        tool, phase, unit, value = cols[:4]
        run = cols[4] if len(cols) > 4 else "1"
        runs.setdefault((tool, phase, unit), {})[run] = float(value)
    tools = []
    for tool, _, _ in runs:
        if tool not in tools:
            tools.append(tool)
    for tool in tools:
        peak = {}
        for (t, _, u), by_run in list(runs.items()):
            if t == tool and u == "rss_kib":
                for r, v in by_run.items():
                    peak[r] = max(peak.get(r, 0), v)
        if peak:
            runs[(tool, "peak", "rss_kib")] = peak
    data = {k: median(list(v.values())) for k, v in runs.items()}
    spread = {
        k: (max(v.values()) - min(v.values())) / data[k] * 100 if len(v) > 1 and data[k] else None
        for k, v in runs.items()
    }
    n_runs = max(len(v) for v in runs.values())
    order = [t for t in ["nightshift", "restic", "borg", "tar"] if t in tools]
    # The check phase of the 1 GiB benchmark reads all data; the scale mode's does not.
    scale = any(p == "restore1" for (_, p, _) in runs)

    def fmt(unit, v):
        if unit == "bytes":
            return f"{v / 1048576:.1f}"
        if unit == "rss_kib":
            return f"{v / 1024:.0f}"
        return f"{v:.2f}"

    header = ["figure"] + [f"{t}" for t in order]
    rows = []
    print(f"median of {n_runs} run{'s' if n_runs != 1 else ''}" + (" [spread]" if n_runs > 1 else ""))
    for phase, unit, label in ROWS:
        if not any((t, phase, unit) in data for t in order):
            continue
        if label == "check (s)" and not scale or label == "check --read-data (s)" and scale:
            continue
        if scale and phase == "check":
            label = label.replace(" --read-data", "")
        base = data.get(("restic", phase, unit))
        cells = [label]
        for t in order:
            v = data.get((t, phase, unit))
            if v is None:
                cells.append("-")
                continue
            ratio = f" ({v / base:.2f}x)" if base else ""
            mark = ""
            target = (SCALE_TARGETS if scale else TARGETS).get((phase, unit))
            if t == "nightshift" and target is not None and base:
                mark = " ok" if v / base <= target else f" MISS>{target}"
            sp = spread.get((t, phase, unit))
            cells.append(fmt(unit, v) + (f" [{sp:.0f}%]" if sp is not None else "") + ratio + mark)
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if len(sys.argv) > 2:
        out = {f"{t}.{p}.{u}": v for (t, p, u), v in data.items()}
        out.update({f"{t}.{p}.{u}.spread_pct": v for (t, p, u), v in spread.items() if v is not None})
        json.dump(out, open(sys.argv[2], "w"), indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
