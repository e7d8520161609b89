"""The policy engine at scale (issue 3): a 30-day month of 10k emails across 3 tenants, and 1M emails,
through the real SendLimiter on an in-memory store (bench/policy_sim.py says what is and is not
simulated). `BENCH_MILLION=N` scales the second run down. Figures go to docs/benchmarks.md.

`BENCH_BASELINE=<git ref>` also runs the second world at `BENCH_BASELINE_EMAILS` (100,000 by default)
with that commit's `src/` and with this tree's, each in a fresh process, side by side: the same
simulation (this checkout's bench/) over the two limiters."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import policy_sim

ROOT = Path(__file__).resolve().parent.parent


def month_10k() -> dict[str, Any]:
    """A 30-day month of 10k emails across 3 tenants: ~333 a day, well inside every limit."""
    limiter, tenants, idents, policy = policy_sim.world(
        3, 6, rate=14.0, day_quota=50_000, tenant_hourly=120, tenant_daily=1000, ident_daily=200, warmup=True
    )
    result = policy_sim.run(limiter, tenants, idents, per_tenant=3334, spacing_s=30 * 86400 / 3334)
    figures = result.figures(tenants, policy)
    assert figures["sends"] == 3 * 3334 and figures["violations"] == 0, (
        figures
    )  # the month went out, in limits
    return figures


def million() -> dict[str, Any]:
    """1M emails across 3 tenants with 8 identities each (an agency client's usual handful), contending
    for a 14/s account (arrivals at ~70% of it)."""
    limiter, tenants, idents, policy = policy_sim.world(
        3,
        8,
        rate=14.0,
        day_quota=2_000_000,
        tenant_hourly=60_000,
        tenant_daily=1_500_000,
        ident_daily=100_000,
        warmup=False,
    )
    per_tenant = int(os.environ.get("BENCH_MILLION", "1000000")) // 3
    result = policy_sim.run(limiter, tenants, idents, per_tenant=per_tenant, spacing_s=3 / (14 * 0.7))
    figures = result.figures(tenants, policy)
    assert figures["sends"] == 3 * per_tenant and figures["violations"] == 0, figures
    return figures


def _million_in(src: Path | None, emails: int) -> dict[str, Any]:
    env = {**os.environ, "BENCH_MILLION": str(emails)}
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    code = "import json; from bench import bench_policy; print(json.dumps(bench_policy.million()))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    figures["load"] = round(os.getloadavg()[0], 2)
    return figures


def side_by_side(ref: str) -> dict[str, Any]:
    from bench.bench_demo import _baseline_src

    emails = int(os.environ.get("BENCH_BASELINE_EMAILS", "100000"))
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        baseline = _million_in(_baseline_src(ref, Path(tmp)), emails)
        current = _million_in(None, emails)
    return {"emails": emails, "baseline": f"{ref} ({commit})", "before": baseline, "after": current}


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for bench in (month_10k, million):
        started = time.perf_counter()
        figures = bench()
        figures["total_seconds"] = round(time.perf_counter() - started, 2)
        out[bench.__name__] = figures
    if ref := os.environ.get("BENCH_BASELINE", ""):
        out["side_by_side"] = side_by_side(ref)
    return out


def markdown(result: dict[str, Any]) -> str:
    month, million = result["month_10k"], result["million"]
    rows = [
        "| run | sends | attempts | violations | Jain index | virtual days | wall | target |",
        "|---|---|---|---|---|---|---|---|",
        f"| month: 3 tenants × 3,334, 6 identities each, warm-up on, account 14/s | {month['sends']:,} "
        f"| {month['attempts']:,} | {month['violations']} | {month['jain_index']} | {month['virtual_days']} "
        f"| **{month['total_seconds']} s** | < 10 s |",
        f"| {million['sends']:,} emails: 3 tenants, 8 identities each, account 14/s, arrivals at 70% of it "
        f"| {million['sends']:,} | {million['attempts']:,} | {million['violations']} "
        f"| {million['jain_index']} | {million['virtual_days']} | **{million['total_seconds']} s** "
        f"({million['attempts_per_s']:,} attempts/s) | ≤ 300 s at 1M |",
    ]
    text = "\n".join(rows) + "\n\nEach run asserted every email sent and 0 violations of any window.\n"
    if side := result.get("side_by_side"):
        before, after = side["before"], side["after"]
        text += (
            f"\nSide by side, {side['emails']:,} emails of the second world, each in a fresh process:\n\n"
            "| limiter | attempts/s | simulation wall | load after |\n|---|---|---|---|\n"
            f"| baseline {side['baseline']} | {before['attempts_per_s']:,} | {before['wall_seconds']} s "
            f"| {before['load']} |\n"
            f"| this tree | **{after['attempts_per_s']:,}** | {after['wall_seconds']} s | {after['load']} |\n"
        )
    return text
