"""The records of a run's metrics.jsonl, for the experiment scripts beside this file."""
import json
from pathlib import Path


def records(run):
    """Yields each record of RUN/metrics.jsonl, skipping a line cut short by a kill."""
    for line in (Path(run) / "metrics.jsonl").read_text().splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:
            continue
