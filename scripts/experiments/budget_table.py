#!/usr/bin/env python3
"""Mean and sample standard deviation over seeds of `bcp train --budget` runs, for docs/results.md.

Usage: budget_table.py LABEL RUN_DIR [RUN_DIR ...] [-- LABEL RUN_DIR ...]
Each group of run folders (one per seed) becomes one Markdown row: the steps each stage ran, the
best validation mean Dice (what selected best.h5), the final evaluation of best.h5 and of last.h5
on the validation list (Dice, 95HD), and the wall time of the run (log.txt's first to last line,
the budget's timing excluded). Reads only what the runs wrote: config.json, metrics.jsonl and
eval/, eval_last/ metrics.json.
"""
import json
import statistics
import sys
from pathlib import Path

from run_records import records


def read_run(folder):
    run = Path(folder)
    config = json.loads((run / "config.json").read_text())
    best_val, first, last = {}, None, None  # best validation Dice per stage
    for record in records(run):
        first = record["time"] if first is None else first
        last = record["time"]
        if record.get("kind") == "validation":
            stage = record["stage"]
            best_val[stage] = max(best_val.get(stage, -1.0), record["mean_dice"])
    def final(name):
        path = run / name / "metrics.json"
        return json.loads(path.read_text())["mean"] if path.exists() else None
    return {
        "steps": f'{config["schedule"]["pretrain_iters"]} + {config["schedule"]["selftrain_iters"]}',
        "patch": "x".join(str(v) for v in config["data"]["patch"]),
        "best_val": list(best_val.values())[-1] if best_val else None,  # the last stage's
        "best": final("eval"),
        "last": final("eval_last"),
        "minutes": (last - first) / 60.0,
    }


def cell(values, scale=100.0, digits=2):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    mean = statistics.mean(values) * scale
    sd = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {sd:.{digits}f}"


def row(label, folders):
    runs = [read_run(f) for f in folders]
    steps = sorted({r["steps"] for r in runs})
    return "| " + " | ".join([
        label,
        str(len(runs)),
        runs[0]["patch"],
        ", ".join(steps),
        cell([r["best_val"] for r in runs]),
        cell([r["best"]["dice"] if r["best"] else None for r in runs]),
        cell([r["best"]["hd95"] if r["best"] else None for r in runs], 1.0),
        cell([r["last"]["dice"] if r["last"] else None for r in runs]),
        cell([r["last"]["hd95"] if r["last"] else None for r in runs], 1.0),
        cell([r["minutes"] for r in runs], 1.0, 1),
    ]) + " |"


def main(argv):
    groups, current = [], []
    for a in argv:
        if a == "--":
            groups.append(current)
            current = []
        else:
            current.append(a)
    groups.append(current)
    print("| run | seeds | patch | steps | best val Dice % | best.h5 Dice % | best.h5 95HD | "
          "last.h5 Dice % | last.h5 95HD | minutes |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for g in groups:
        if len(g) < 2:
            sys.exit("budget_table.py: each group is LABEL RUN_DIR [RUN_DIR ...]")
        print(row(g[0], g[1:]))


if __name__ == "__main__":
    main(sys.argv[1:])
