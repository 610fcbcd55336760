#!/usr/bin/env python3
"""Prints the backup benchmark's results as a table of figures and ratios to restic.

usage: table.py RESULTS.tsv [OUT.json]   (rows: tool, phase, unit, value)
"""
import json
import sys

TARGETS = {  # ratio to restic that nightshift must not exceed (issue 3)
    ("first", "seconds"): 0.7,
    ("incr", "seconds"): 1.0,
    ("incr", "bytes"): 1.0,
    ("nochange", "seconds"): 0.5,
    ("restore", "seconds"): 0.7,
    ("first", "bytes"): 1.0,
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
    ("peak", "rss_kib", "peak RSS, any phase (MiB)"),
]


def main():
    data = {}
    for line in open(sys.argv[1]):
        tool, phase, unit, value = line.rstrip("\n").split("\t")
        data[(tool, phase, unit)] = float(value)
    tools = []
    for tool, _, _ in data:
        if tool not in tools:
            tools.append(tool)
    for tool in tools:
        rss = [v for (t, _, u), v in data.items() if t == tool and u == "rss_kib"]
        if rss:
            data[(tool, "peak", "rss_kib")] = max(rss)
    order = [t for t in ["nightshift", "restic", "borg", "tar"] if t in tools]

    def fmt(unit, v):
        if unit == "bytes":
            return f"{v / 1048576:.1f}"
        if unit == "rss_kib":
            return f"{v / 1024:.0f}"
        return f"{v:.2f}"

    header = ["figure"] + [f"{t}" for t in order]
    rows = []
    for phase, unit, label in ROWS:
        base = data.get(("restic", phase, unit))
        cells = [label]
        for t in order:
            v = data.get((t, phase, unit))
            if v is None:
                cells.append("-")
                continue
            ratio = f" ({v / base:.2f}x)" if base else ""
            mark = ""
            target = TARGETS.get((phase, unit))
            if t == "nightshift" and target is not None and base:
                mark = " ok" if v / base <= target else f" MISS>{target}"
            cells.append(fmt(unit, v) + ratio + mark)
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    for r in [header] + rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
    if len(sys.argv) > 2:
        out = {f"{t}.{p}.{u}": v for (t, p, u), v in data.items()}
        json.dump(out, open(sys.argv[2], "w"), indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
