"""The planner and the lead import at scale on SQLite, each run a whole process under GNU time (its wall
time and peak RSS are the honest units): 100,000 leads (jobs per second, rows per second), and
1,000,000 leads (peak RSS of importing and planning them all). bench/scale_run.py is the workload and
states its policy: limits opened, a tick booking at most 5,000 jobs per tenant.

`BENCH_MILLION=N` scales the second run down (the figures then say so).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
GNU_TIME = "/usr/bin/time"


def timed_run(leads: int) -> dict[str, Any]:
    """bench.scale_run in a fresh process under `time -v`: its figures, wall time and peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [GNU_TIME, "-v", sys.executable, "-m", "bench.scale_run", str(leads), str(Path(tmp) / "ws")],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"scale run of {leads} leads failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", done.stderr)
    assert rss and wall, done.stderr[-2000:]
    figures["peak_rss_mb"] = round(int(rss.group(1)) / 1024, 1)
    figures["process_wall"] = wall.group(1)
    return figures


def run() -> dict[str, Any]:
    million = int(os.environ.get("BENCH_MILLION", "1000000"))
    return {"hundred_thousand": timed_run(100_000), "million": timed_run(million)}


def markdown(result: dict[str, Any]) -> str:
    a, m = result["hundred_thousand"], result["million"]

    def both(label: str, key: str, fmt: str = "{:,}", bold: str = "") -> str:
        cells = []
        for run, mark in ((a, "a" in bold), (m, "m" in bold)):
            text = fmt.format(run[key]) if not callable(fmt) else fmt(run)
            cells.append(f"**{text}**" if mark else text)
        return f"| {label} | {cells[0]} | {cells[1]} |"

    lines = [
        f"| figure (limits opened; every job claimed, slotted, enqueued) | {a['leads']:,} leads | "
        f"{m['leads']:,} leads |",
        "|---|---|---|",
        both(
            "lead import, streamed from a CSV file, rows/s (target ≥ 10,000)", "import_rows_per_s", bold="a"
        ),
        both("lead import, seconds", "import_seconds", "{}"),
        both("campaign start (a step timer per lead), seconds", "campaign_start_seconds", "{}"),
        both("planning, jobs/s (target ≥ 2,000 at 100k)", "jobs_per_s", bold="a"),
        both("planning, seconds", "planning_seconds", "{}"),
        both("planner ticks", "planner_ticks"),
        both("the slowest tick, seconds", "slowest_tick_seconds", "{}"),
        both("peak RSS of the whole process, MB (GNU time; target ≤ 200 at 1M)", "peak_rss_mb", "{}", "m"),
        both("wall time of the whole process", "process_wall", "{}"),
    ]
    return "\n".join(lines) + (
        "\n\nEach run asserted every lead imported, enrolled, planned and its message enqueued.\n"
    )
