#!/usr/bin/env python3
"""Where each own-data run's accuracy came from, for issue 26's "why does BCP (not) pay" (point 5).

Usage: own_data_curves.py WORK_DIR [WORK_DIR ...]   (folders of own_data_table.sh, e.g. /tmp/own/la_3)
For every METHOD_seedN run in them: the best selection-set Dice of each stage and the minute of
the run it came at, the Dice at the last validation, and the report Dice of best.h5 (score.json).
Then, per method, the means over seeds. Reads only what the runs wrote (metrics.jsonl, score.json).
"""
import collections
import json
import re
import statistics
import sys
from pathlib import Path

from run_records import records


def read(run):
    start, stages = None, collections.OrderedDict()
    for r in records(run):
        start = r["time"] if start is None else start
        if r.get("kind") != "validation":
            continue
        s = stages.setdefault(r["stage"], {"best": -1.0, "at": 0.0, "last": None})
        minute = (r["time"] - start) / 60.0
        if r["mean_dice"] > s["best"]:
            s["best"], s["at"] = r["mean_dice"], minute
        s["last"] = r["mean_dice"]
    score = run / "score.json"
    report = json.loads(score.read_text())["mean"]["dice"] if score.exists() else None
    return stages, report


def main(dirs):
    means = collections.defaultdict(lambda: collections.defaultdict(list))
    print("| work | run | stage: best selection Dice % (minute), last | report Dice % |")
    print("|---|---|---|---|")
    for d in map(Path, dirs):
        for run in sorted(p for p in d.iterdir() if re.match(r".+_seed\d+$", p.name) and p.is_dir()):
            if not (run / "metrics.jsonl").exists():
                continue
            stages, report = read(run)
            method = run.name.rsplit("_seed", 1)[0]
            cells = []
            for name, s in stages.items():
                cells.append(f'{name}: {100 * s["best"]:.1f} ({s["at"]:.1f}), {100 * s["last"]:.1f}')
                means[(d.name, method)][name].append(s["best"])
            if report is not None:
                means[(d.name, method)]["report"].append(report)
            shown = f"{100 * report:.2f}" if report is not None else "-"
            print(f"| {d.name} | {run.name} | {'; '.join(cells)} | {shown} |")
    print()
    for (work, method), values in sorted(means.items()):
        parts = []
        for name, v in values.items():
            sd = statistics.stdev(v) if len(v) > 1 else float("nan")
            parts.append(f"{name} {100 * statistics.mean(v):.2f} ± {100 * sd:.2f}")
        print(f"{work} {method}: " + ", ".join(parts) + f" ({len(next(iter(values.values())))} seeds)")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
