"""`make demo` as a user runs it: `outreach demo --summary-json` in a fresh process under GNU time (wall,
CPU, peak RSS of the whole process; the honest unit for a command). Asserts the demo completed what it
shows (every job terminal, no duplicate sends, no send to a suppressed address) before a figure.
Policy: the demo's own (shipped defaults, its world's warm-up and limits; entrypoints/demo_data.py).

`BENCH_BASELINE=<git ref>` (e.g. `main`) runs the same command from that commit's `src/` as well
(`git archive`, on this checkout's .venv), the two alternating, `BENCH_DEMO_RUNS` times each (1 by
default): a before/after measured side by side in one run. Each tree also runs once in process with
the CPU time of its parts (bench/demo_split.py): the planner's, the sender's, the feedback's shares."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTREACH = ROOT / ".venv" / "bin" / "outreach"


def _environment(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:  # the baseline's packages first; bench/ from this checkout
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    return env


def _run(command: list[str], cwd: Path | str, src: Path | None) -> subprocess.CompletedProcess[str]:
    """`command` with the tree's environment; asserts it succeeded before any figure is read."""
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env=_environment(src)
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _demo(src: Path | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        summary_path = Path(tmp) / "demo-summary.json"
        done = _run(
            [
                "/usr/bin/time",
                "-v",
                str(OUTREACH),
                "demo",
                "--no-progress",
                "--summary-json",
                str(summary_path),
            ],
            tmp,
            src,
        )
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
        "load": round(os.getloadavg()[0], 2),
        "demo_wall_seconds": summary.get("wall_seconds"),
        "virtual_days": summary.get("virtual_days"),
        "jobs_planned": summary["jobs_planned"],
        "sent": summary["sent"],
        "leads": summary["leads"],
        "paused_campaigns": summary["paused_campaigns"],
        "blocked_identities": summary["blocked_identities"],
    }


def _split(src: Path | None) -> dict[str, Any]:
    done = _run([sys.executable, "-m", "bench.demo_split"], ROOT, src)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _baseline_src(ref: str, into: Path) -> Path:
    """`src/` of `ref`, as `git archive` gives it."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", ref, "src"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def run() -> dict[str, Any]:
    ref = os.environ.get("BENCH_BASELINE", "")
    runs = int(os.environ.get("BENCH_DEMO_RUNS", "1"))
    with tempfile.TemporaryDirectory() as tmp:
        trees: dict[str, Path | None] = {"this tree": None}
        if ref:
            commit = subprocess.run(
                ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout.strip()
            trees = {f"baseline {ref} ({commit})": _baseline_src(ref, Path(tmp)), **trees}
        timings: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
        for _ in range(runs):  # alternating, so a change in the machine's load hits both
            for name, src in trees.items():
                timings[name].append(_demo(src))
        splits = {name: _split(src) for name, src in trees.items()}
    current = timings["this tree"][-1]
    return {
        **current,
        "trees": {name: {"runs": timings[name], "split": splits[name]} for name in trees},
    }


def _cpu(run: dict[str, Any]) -> float:
    return float(run["user_s"]) + float(run["system_s"])


def markdown(result: dict[str, Any]) -> str:
    trees = result.get("trees") or {"this tree": {"runs": [result], "split": None}}
    rows = [
        "| tree | `outreach demo` wall, whole process (GNU time) | CPU user + system | load | peak RSS "
        "| planner / sender / feedback CPU share | sent | paused, blocked |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, tree in trees.items():
        split = tree.get("split")
        shares = (
            " / ".join(f"{split['shares'][p]:.0%}" for p in ("planner", "sender", "feedback"))
            if split
            else ""
        )
        for run in tree["runs"]:
            rows.append(
                f"| {name} | **{run['wall']}** | {_cpu(run):.1f} s ({run['user_s']} + {run['system_s']}) "
                f"| {run.get('load', '')} | {run['peak_rss_mb']} MB | {shares} | {run['sent']:,} "
                f"| {', '.join(run['paused_campaigns'])}; {', '.join(run['blocked_identities'])} |"
            )
    return (
        "\n".join(rows) + f"\n\nTarget: ≤ 30 s wall on 2 cores. The world: {result['leads']:,} leads, "
        f"{result['jobs_planned']:,} jobs, {result['virtual_days']} virtual days. Every run asserted every "
        "job terminal, no duplicate send and no send to a suppressed address. Load: the 1-minute load "
        "average after each run (the machine is shared).\n"
    )
