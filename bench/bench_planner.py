"""The planner planning 100k jobs on the local adapters (SQLite store and queue): time and peak memory."""

from __future__ import annotations

import resource
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.clock import VirtualClock
from entrypoints.container import build
from entrypoints.log_setup import configure_logging
from entrypoints.settings import Settings
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow

JOBS = 100_000


def run() -> dict[str, Any]:
    configure_logging("ERROR")
    with tempfile.TemporaryDirectory() as tmp:
        app = build(Settings(workspace=Path(tmp), planner_horizon_s=900))
        clock = VirtualClock(datetime(2026, 1, 5, 9, tzinfo=UTC))
        app.adapters.clock.override(providers.Object(clock))
        admin = app.services.admin()
        always = SendWindow(days=(0, 1, 2, 3, 4, 5, 6), start=datetime.min.time(), end=datetime.min.time())
        admin.add_tenant(
            "bench", "Bench", "1 Main Street", window=always, quotas=Quotas(daily=10**7, hourly=10**8)
        )
        admin.add_direction("bench", "d", "D")
        for n in range(10):
            admin.add_identity("bench", f"id{n}", f"rep{n}@bench-mail.com", daily_cap=10**6)
        admin.add_template("bench", "t", "Hello {{first_name|there}}", "Body")
        admin.add_campaign("bench", "c", "d", [CampaignStep(number=1, template_id="t")])
        rows = "email\n" + "".join(f"u{n}@corp-{n % 500}.com\n" for n in range(JOBS))
        started = time.perf_counter()
        imported = app.services.leads().import_csv("bench", rows.encode()).imported
        import_s = time.perf_counter() - started
        admin.start_campaign("bench", "c")
        planner = app.services.planner()
        tracemalloc.start()
        started = time.perf_counter()
        planned = ticks = 0
        while report := planner.tick():
            ticks += 1
            planned += report.planned
            if not report.planned:
                break
            clock.advance(timedelta(seconds=1))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        queued = app.adapters.job_queue().stats().delayed + app.adapters.job_queue().stats().visible
    return {
        "leads_imported": imported,
        "import_seconds": round(import_s, 1),
        "jobs_planned": planned,
        "messages_enqueued": queued,
        "planner_ticks": ticks,
        "planning_seconds": round(elapsed, 1),
        "jobs_per_second": round(planned / elapsed),
        "peak_python_heap_mb": round(peak / 2**20, 1),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
