#!/usr/bin/env python3
"""Summarises a torch_versions_bench.sh folder: for each benchmark row (kind, dataset, precision)
the median and minimum over all rounds' timed repeats on each bcp build, the ratio old/new, and
the authors' ACDC self-training step against bcp's ACDC self-training step (minimum against
minimum, as issue 27 asks).

  python3 scripts/experiments/torch_versions_table.py OUT
"""
import glob
import json
import os
import statistics
import sys


def rows(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def times_by_key(folder, side):
    out = {}
    for r in (r for f in sorted(glob.glob(os.path.join(folder, side + ".*.jsonl"))) for r in rows(f)):
        if r.get("ranks", 1) != 1:
            continue
        key = (r["benchmark"], r["dataset"], r["precision"])
        out.setdefault(key, []).extend(r["seconds"])
    return out


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "versions.txt")) as f:
        versions = dict(line.rstrip("\n").split(": ", 1) for line in f if ": " in line)
    old = times_by_key(folder, "old")
    new = times_by_key(folder, "new")
    print("old = %s; new = %s; seconds, median / min over all rounds' repeats" %
          (versions.get("old"), versions.get("new")))
    print()
    print("| benchmark | dataset | precision | old median | old min | new median | new min | old/new (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for key in sorted(set(old) | set(new)):
        o, n = old.get(key, []), new.get(key, [])
        cells = list(key)
        for t in (o, n):
            cells += ["%.3f" % statistics.median(t), "%.3f" % min(t)] if t else ["-", "-"]
        ratio = statistics.median(o) / statistics.median(n) if o and n else float("nan")
        print("| " + " | ".join(cells) + " | %.2f |" % ratio)
    authors = [t for r in rows(os.path.join(folder, "authors.jsonl")) for t in r["seconds"]]
    if authors:
        print()
        print("authors' ACDC self-training step (%s, fp32): median %.3f s, min %.3f s over %d steps" %
              (versions.get("authors"), statistics.median(authors), min(authors), len(authors)))
        for name, table in (("old", old), ("new", new)):
            for precision in ("fp32", "bf16"):
                t = table.get(("step", "acdc", precision))
                if t:
                    print("  bcp %s %s ACDC self-training step: min %.3f s -> authors' min / bcp's min"
                          " = %.2fx (median %.2fx)" % (name, precision, min(t), min(authors) / min(t),
                                                      statistics.median(authors) / statistics.median(t)))


if __name__ == "__main__":
    main()
