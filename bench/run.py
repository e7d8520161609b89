"""`make bench`: the benchmarks. Figures go to docs/benchmarks.md by hand; nothing here asserts time."""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from bench import policy_sim


def month_10k() -> dict[str, object]:
    """A 30-day month of 10k emails across 3 tenants: ~333 a day, well inside every limit."""
    limiter, tenants, idents, policy = policy_sim.world(
        3, 6, rate=14.0, day_quota=50_000, tenant_hourly=120, tenant_daily=1000, ident_daily=200, warmup=True
    )
    result = policy_sim.run(limiter, tenants, idents, per_tenant=3334, spacing_s=30 * 86400 / 3334)
    return {"name": "month_10k_3_tenants", **result.figures(tenants, policy)}


def million() -> dict[str, object]:
    """1M emails across 3 tenants contending for a 14/s account (arrivals at ~70% of it)."""
    limiter, tenants, idents, policy = policy_sim.world(
        3,
        40,
        rate=14.0,
        day_quota=2_000_000,
        tenant_hourly=60_000,
        tenant_daily=1_500_000,
        ident_daily=100_000,
        warmup=False,
    )
    per_tenant = int(os.environ.get("BENCH_MILLION", "1000000")) // 3
    result = policy_sim.run(limiter, tenants, idents, per_tenant=per_tenant, spacing_s=3 / (14 * 0.7))
    return {"name": f"{per_tenant * 3}_emails_3_tenants", **result.figures(tenants, policy)}


def main() -> None:
    print(f"# machine: {platform.platform()}, Python {sys.version.split()[0]}, {os.cpu_count()} cpus")
    for bench in (month_10k, million):
        started = time.perf_counter()
        figures = bench()
        figures["total_seconds"] = round(time.perf_counter() - started, 2)
        print(json.dumps(figures))


if __name__ == "__main__":
    main()
