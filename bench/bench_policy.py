"""The policy engine at scale (issue 3): a 30-day month of 10k emails across 3 tenants, and 1M emails,
through the real SendLimiter on an in-memory store (bench/policy_sim.py says what is and is not
simulated). `BENCH_MILLION=N` scales the second run down. Figures go to docs/benchmarks.md."""

from __future__ import annotations

import os
import time
from typing import Any

from bench import policy_sim


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


def run() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for bench in (month_10k, million):
        started = time.perf_counter()
        figures = bench()
        figures["total_seconds"] = round(time.perf_counter() - started, 2)
        out[bench.__name__] = figures
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
    return "\n".join(rows) + "\n\nEach run asserted every email sent and 0 violations of any window.\n"
