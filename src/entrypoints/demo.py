"""`outreach demo`: the whole pipeline on the local stack, two-odd weeks of virtual time in seconds."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from dependency_injector import providers

from adapters.clock import VirtualClock
from adapters.simulated_ses import SimulatedSesMailer
from entrypoints.container import Application, build
from entrypoints.demo_data import build_world, simulator_profile
from entrypoints.settings import Settings
from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.domain.ids import email_hash
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, CampaignStatus, IdentityStatus, Lead, SenderIdentity
from outreach_core.domain.suppression import SuppressionScope
from outreach_core.records import Records
from outreach_core.services.status import EVER_SENT, OPEN

DEMO_START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)  # a Monday morning
MAX_DAYS = 35
STEP = timedelta(minutes=1)  # the smallest jump of virtual time: batches what comes due within a minute
TICK = timedelta(minutes=5)  # the planner once a horizon, as EventBridge Scheduler runs it
# Feedback gathered for up to a tick before it is ingested (one archive object per tenant per batch),
# as the feedback function's SQS event source would with a 300 s MaximumBatchingWindowInSeconds.
FEEDBACK_WINDOW_S = 300


DEMO_MARK = ".outreach-demo"  # in a kept workspace: `demo --keep` may empty it and run again


def prepare_workspace(path: Path) -> None:
    """An empty directory for `demo --keep`: a new one, or one an earlier demo left (never anything else)."""
    if path.exists() and any(path.iterdir()):
        if not (path / DEMO_MARK).exists():
            raise ValueError(f"{path} is not empty and not a demo workspace: name a new directory")
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / DEMO_MARK).write_text("kept by `outreach demo --keep`; the next demo run replaces it\n")
    (path / ".gitignore").write_text("*\n")


def run_demo(
    workspace: Path | None = None, seed: int = 7, progress: Callable[[float, str], None] | None = None
) -> dict[str, Any]:
    """Run the demo world to completion; returns the summary (see `summarise`). With `workspace`, the
    run is kept there (SQLite, archive) for `outreach --workspace DIR status|report|leads show` after."""
    started = time.perf_counter()
    if workspace is not None:
        prepare_workspace(workspace)
    with tempfile.TemporaryDirectory(prefix="outreach-demo-") as tmp:
        settings = Settings(
            workspace=workspace or Path(tmp),
            mailer="simulator",
            backend="local",
            unsubscribe_base_url="https://unsubscribe.example.net/u",
            mx_resolver="offline",
            sqlite_exclusive=True,  # nothing else opens the demo's workspace while it runs
            feedback_batch_window_s=FEEDBACK_WINDOW_S,
        )
        app = build(settings)
        clock = VirtualClock(DEMO_START)
        app.adapters.clock.override(providers.Object(clock))
        app.adapters.simulator_profile.override(providers.Object(simulator_profile(str(seed))))
        services = app.services
        world = build_world(services.admin(), services.leads(), seed=seed)
        worker = LocalWorker.from_app(app)
        stats = _drive(worker, clock, services.records(), progress)
        for tenant in services.records().tenants():  # the last sends went: the campaigns are over
            worker.planner.completion.check(tenant.id, clock.now(), force=True)
        summary = summarise(services.records(), app.adapters.simulator(), world.leads, stats)
        summary["virtual_days"] = round((clock.now() - DEMO_START) / timedelta(days=1), 2)
        summary["wall_seconds"] = round(time.perf_counter() - started, 2)
        _close(app)
    return summary


def _close(app: Application) -> None:
    adapters = app.adapters
    for adapter in (adapters.store(), adapters.job_queue(), adapters.event_queue(), adapters.webhook_queue()):
        adapter.close()  # the last one closes the workspace's connection (and its exclusive lock)


def _drive(
    worker: LocalWorker, clock: VirtualClock, records: Records, progress: Callable[[float, str], None] | None
) -> WorkerStats:
    total = WorkerStats()
    last_tick: datetime | None = None
    deadline = DEMO_START + timedelta(days=MAX_DAYS)
    while clock.now() < deadline:
        last_tick, wake, step_end = worker.virtual_step(clock, total, last_tick, tick=TICK, step=STEP)
        if wake is None:
            break
        clock.advance_to(max(wake, step_end))
        if progress:
            elapsed = (clock.now() - DEMO_START) / timedelta(days=MAX_DAYS)
            progress(
                min(1.0, elapsed), f"{clock.now():%a %d %b %H:%M} · sent {total.outcomes.get('sent', 0)}"
            )
    return total


def summarise(records: Records, mailer: SimulatedSesMailer, leads: int, stats: WorkerStats) -> dict[str, Any]:
    tenants = records.tenants()
    jobs = [j for t in tenants for j in records.jobs(t.id)]
    status = Counter(j.status for j in jobs)
    sent_keys = Counter(entry.tags.get("ikey") for entry in mailer.ledger)
    return {
        "leads": leads,
        "jobs_planned": len(jobs),
        **_counts(jobs),
        "failed": status[JobStatus.FAILED],
        "dead_lettered": status[JobStatus.DEAD_LETTERED],
        "uncertain": status[JobStatus.UNCERTAIN],
        "duplicate_sends": sum(n - 1 for n in sent_keys.values() if n > 1),
        "sends_to_suppressed": _sends_to_suppressed(records, mailer),
        "non_terminal_jobs": sum(status[s] for s in OPEN),
        "provider_accepted": len(mailer.ledger),
        "replies": sum(
            1 for t in tenants for lead in records.all(Lead, t.id) if lead.status.value == "replied"
        ),
        "suppression_entries": sum(len(records.suppressions(SuppressionScope.TENANT, t.id)) for t in tenants)
        + len(records.suppressions(SuppressionScope.GLOBAL)),
        "paused_campaigns": sorted(
            f"{t.id}/{c.id}"
            for t in tenants
            for c in records.all(Campaign, t.id)
            if c.status is CampaignStatus.PAUSED
        ),
        "blocked_identities": sorted(
            f"{t.id}/{i.id}"
            for t in tenants
            for i in records.all(SenderIdentity, t.id)
            if i.status is IdentityStatus.BLOCKED
        ),
        "skipped_by_hygiene": dict(
            sorted(
                Counter(
                    lead.skip_code
                    for t in tenants
                    for lead in records.all(Lead, t.id)
                    if lead.status.value == "skipped"
                ).items()
            )
        ),
        "tenants": [_tenant_row(records, t.id) for t in tenants],
        "campaigns": [_campaign_row(records, t.id, c) for t in tenants for c in records.all(Campaign, t.id)],
        "sender_outcomes": dict(sorted(stats.outcomes.items())),
        "events_applied": stats.events_applied,
        "events_rejected": stats.events_rejected,
    }


def _counts(jobs: list[MessageJob]) -> dict[str, int]:
    status = Counter(j.status for j in jobs)
    return {
        "sent": sum(status[s] for s in EVER_SENT),
        "delivered": status[JobStatus.DELIVERED] + status[JobStatus.COMPLAINED],
        "bounced": status[JobStatus.BOUNCED],
        "complained": status[JobStatus.COMPLAINED],
        "suppressed": status[JobStatus.SUPPRESSED],
        "cancelled": status[JobStatus.CANCELLED],
    }


def _tenant_row(records: Records, tenant_id: str) -> dict[str, Any]:
    leads = Counter(lead.status.value for lead in records.all(Lead, tenant_id))
    return {
        "tenant": tenant_id,
        "leads": sum(leads.values()),
        "replied": leads["replied"],
        **_counts(records.jobs(tenant_id)),
    }


def _campaign_row(records: Records, tenant_id: str, campaign: Campaign) -> dict[str, Any]:
    jobs = records.jobs(tenant_id, campaign.id)
    status = campaign.status.value + (f": {campaign.status_reason}" if campaign.status_reason else "")
    return {"campaign": f"{tenant_id}/{campaign.id}", "status": status, "jobs": len(jobs), **_counts(jobs)}


def _sends_to_suppressed(records: Records, mailer: SimulatedSesMailer) -> int:
    """Messages that reached the provider after their address was suppressed (must be 0)."""
    suppressed_at: dict[tuple[str | None, str], datetime] = {}
    for tenant in records.tenants():
        for entry in records.suppressions(SuppressionScope.TENANT, tenant.id):
            suppressed_at[(tenant.id, entry.email_hash)] = entry.created_at
    for entry in records.suppressions(SuppressionScope.GLOBAL):
        suppressed_at[(None, entry.email_hash)] = entry.created_at
    count = 0
    for sent in mailer.ledger:
        digest = email_hash(sent.recipient)
        times = [suppressed_at.get((sent.tags.get("tenant"), digest)), suppressed_at.get((None, digest))]
        if any(t is not None and t < sent.at for t in times):
            count += 1
    return count
