"""`make demo` as a user runs it: `outreach demo --summary-json` in a fresh process under GNU time (wall,
CPU, peak RSS of the whole process; the honest unit for a command). Asserts the demo completed what it
shows (every job terminal, no duplicate sends, no send to a suppressed address) before a figure.
Policy: the demo's own (shipped defaults, its world's warm-up and limits; entrypoints/demo_data.py)."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTREACH = ROOT / ".venv" / "bin" / "outreach"


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "demo-summary.json"
        done = subprocess.run(
            [
                "/usr/bin/time",
                "-v",
                str(OUTREACH),
                "demo",
                "--no-progress",
                "--summary-json",
                str(summary_path),
            ],
            cwd=tmp,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    assert summary["non_terminal_jobs"] == 0 and summary["duplicate_sends"] == 0, summary
    assert summary["sends_to_suppressed"] == 0 and summary["jobs_planned"] > 0, summary

    def field(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: (.+)", done.stderr)
        assert found, done.stderr[-2000:]
        return found.group(1).strip()

    return {
        "wall": field("Elapsed (wall clock) time (h:mm:ss or m:ss)"),
        "user_s": float(field("User time (seconds)")),
        "system_s": float(field("System time (seconds)")),
        "cpu_percent": field("Percent of CPU this job got"),
        "peak_rss_mb": round(int(field("Maximum resident set size (kbytes)")) / 1024, 1),
        "demo_wall_seconds": summary.get("wall_seconds"),
        "virtual_days": summary.get("virtual_days"),
        "jobs_planned": summary["jobs_planned"],
        "leads": summary["leads"],
    }


def markdown(result: dict[str, Any]) -> str:
    return (
        "| figure | value | target |\n|---|---|---|\n"
        f"| `outreach demo` wall time, whole process (GNU time) | **{result['wall']}** "
        "| ≤ 30 s on 2 cores |\n"
        f"| CPU: user + system | {result['user_s']} s + {result['system_s']} s "
        f"({result['cpu_percent']}) | |\n"
        f"| peak RSS | {result['peak_rss_mb']} MB | |\n"
        f"| the world | {result['leads']:,} leads, {result['jobs_planned']:,} jobs, "
        f"{result['virtual_days']} virtual days | |\n\n"
        "The run asserted every job terminal, no duplicate send and no send to a suppressed address.\n"
    )
