"""A small world on the real local stack (SQLite, simulated SES, the container), on a virtual clock:
two tenants, three identities, a two-step campaign each, leads at several mailbox providers and a
domain that always bounces. Runs its few days of traffic in about a second."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dependency_injector import providers

from adapters.clock import VirtualClock
from adapters.memory_metrics import InMemoryMetrics
from adapters.simulated_ses import OutcomeRates, SimulatorProfile
from entrypoints.container import Application, build
from entrypoints.settings import Settings
from entrypoints.worker import LocalWorker
from outreach_core.domain.models import CampaignStep

START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday
DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "mail.ru", "acme-corp.com", "gone.example"]


@dataclass
class World:
    app: Application
    clock: VirtualClock
    worker: LocalWorker
    metrics: InMemoryMetrics
    workspace: Path

    def run(self, days: float = 6) -> None:
        deadline = self.clock.now() + timedelta(days=days)
        while self.clock.now() < deadline:
            self.worker.run_once()
            wake = self.worker.next_wake()
            if wake is None:
                break
            self.clock.advance_to(max(wake, self.clock.now() + timedelta(minutes=1)))

    def close(self) -> None:
        for adapter in (
            self.app.adapters.store(),
            self.app.adapters.job_queue(),
            self.app.adapters.event_queue(),
        ):
            adapter.close()


def _leads(prefix: str, count: int) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["email", "first_name", "company"])
    writer.writeheader()
    for n in range(count):
        writer.writerow(
            {"email": f"{prefix}{n}@{DOMAINS[n % len(DOMAINS)]}", "first_name": "Sam", "company": "Co"}
        )
    return out.getvalue().encode()


def small_world(
    workspace: Path, leads_per_tenant: int = 24, profile: SimulatorProfile | None = None
) -> World:
    settings = Settings(
        workspace=workspace, mailer="simulator", backend="local", unsubscribe_base_url="https://u.example/u"
    )
    app = build(settings)
    clock = VirtualClock(START)
    metrics = InMemoryMetrics(strict=True)
    app.adapters.clock.override(providers.Object(clock))
    app.adapters.metrics.override(providers.Object(metrics))
    app.adapters.simulator_profile.override(
        providers.Object(
            profile
            or SimulatorProfile(
                seed="small-world",
                default=OutcomeRates(bounce=0.0, complaint=0.0, delay=0.0, reply=0.0, auto_reply=0.0),
                domains={"gone.example": OutcomeRates(bounce=1.0)},
                senders={"gus@globex-mail.com": OutcomeRates(complaint=0.1)},
            )
        )
    )
    admin, leads = app.services.admin(), app.services.leads()
    for tenant in ("acme", "globex"):
        admin.add_tenant(tenant, tenant.title(), "1 Main Street, Springfield")
        admin.add_direction(tenant, "d1", "Direction")
        admin.add_template(
            tenant, f"{tenant}-1", "Hello {{company|there}}", "Hi {{first_name|there}}, a question."
        )
        admin.add_template(tenant, f"{tenant}-2", "", "Following up on my note.")
        admin.add_campaign(
            tenant,
            "c1",
            "d1",
            [
                CampaignStep(number=1, template_id=f"{tenant}-1"),
                CampaignStep(number=2, template_id=f"{tenant}-2", delay=timedelta(days=1)),
            ],
            lead_list="main",
        )
        leads.import_csv(tenant, _leads(tenant, leads_per_tenant), list_name="main")
    admin.add_identity("acme", "ann", "ann@acme-mail.com", daily_cap=8)
    admin.add_identity("acme", "bob", "bob@acme-mail.com", daily_cap=8)
    admin.add_identity("globex", "gus", "gus@globex-mail.com", daily_cap=8)
    for tenant in ("acme", "globex"):
        admin.start_campaign(tenant, "c1")
    worker = LocalWorker(
        app.services.planner(),
        app.services.sender(),
        app.services.ingestor(),
        app.adapters.job_queue(),
        app.adapters.event_queue(),
        clock,
    )
    return World(app, clock, worker, metrics, workspace)
