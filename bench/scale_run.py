"""One planner-at-scale run in its own process (bench_planner runs it under GNU time for the peak RSS of
the whole process): LEADS leads written to a CSV file, imported from it (streamed), a campaign started,
and the planner ticking until every step-1 job is claimed, slotted and enqueued. Prints its figures as
one JSON line; asserts the workload completed first.

    python -m bench.scale_run LEADS WORKSPACE

Policy, stated: limits OPENED (tenant quotas 10^9, identity pacing and warm-up off, provider windows
off, the account at 100,000/s and 10^9 a day), so that what is measured is the planner's work per job;
each tick still books at most `max_jobs_per_tick` (5,000) per tenant, the horizon 15 minutes.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dependency_injector import providers

from adapters.clock import VirtualClock
from entrypoints.container import build
from entrypoints.log_setup import configure_logging
from entrypoints.settings import Settings
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import IdentityLimits, TenantPolicy
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan

START = datetime(2026, 1, 5, 9, tzinfo=UTC)
ALWAYS = SendWindow(days=(0, 1, 2, 3, 4, 5, 6), start=datetime.min.time(), end=datetime.min.time())
OPEN = TenantPolicy(
    identity=IdentityLimits(per_minute=None, per_hour=None),
    providers={p: ProviderLimits(per_hour=None, per_day=None) for p in Provider},
    warmup=WarmupPlan(enabled=False),
)


def main(leads: int, workspace: Path) -> dict[str, float | int]:
    configure_logging("ERROR")
    workspace.mkdir(parents=True, exist_ok=True)
    csv_path = workspace / "leads.csv"
    with csv_path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,company\n")
        for n in range(leads):
            out.write(f"u{n}@corp-{n % 500}.com,Name{n},Corp {n % 997}\n")
    app = build(
        Settings(
            workspace=workspace,
            planner_horizon_s=900,
            ses_max_send_rate=100_000.0,
            ses_max_24h_send=10**9,
            mx_resolver="offline",
        )
    )
    clock = VirtualClock(START)
    app.adapters.clock.override(providers.Object(clock))
    admin = app.services.admin()
    admin.add_tenant(
        "bench", "Bench", "1 Main Street", window=ALWAYS, quotas=Quotas(daily=10**9, hourly=10**9)
    )
    app.services.limiter().set_tenant_policy("bench", OPEN)
    admin.add_direction("bench", "d", "D")
    for n in range(10):
        admin.add_identity("bench", f"id{n}", f"rep{n}@bench-mail.com", daily_cap=10**8)
    admin.add_template("bench", "t", "Hello {{first_name|there}}", "Body")
    admin.add_campaign("bench", "c", "d", [CampaignStep(number=1, template_id="t")])

    started = time.perf_counter()
    with csv_path.open("rb") as rows:
        report = app.services.leads().import_csv("bench", rows)
    import_s = time.perf_counter() - started
    assert report.imported == leads and not report.problems, (report.imported, report.problems[:3])

    started = time.perf_counter()
    enrolled = admin.start_campaign("bench", "c")
    start_s = time.perf_counter() - started
    assert enrolled == leads

    planner = app.services.planner()
    planned = ticks = slowest = 0
    started = time.perf_counter()
    while True:
        tick_started = time.perf_counter()
        result = planner.tick()
        slowest = max(slowest, time.perf_counter() - tick_started)
        ticks += 1
        planned += result.planned
        if not result.planned:
            break
        clock.advance(timedelta(seconds=1))
    plan_s = time.perf_counter() - started
    stats = app.adapters.job_queue().stats()
    enqueued = stats.visible + stats.delayed
    assert planned == leads == enqueued, (planned, leads, enqueued)
    return {
        "leads": leads,
        "import_seconds": round(import_s, 1),
        "import_rows_per_s": round(leads / import_s),
        "campaign_start_seconds": round(start_s, 1),
        "jobs_planned": planned,
        "messages_enqueued": enqueued,
        "planner_ticks": ticks,
        "planning_seconds": round(plan_s, 1),
        "jobs_per_s": round(planned / plan_s),
        "slowest_tick_seconds": round(slowest, 2),
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]), Path(sys.argv[2]))), flush=True)
