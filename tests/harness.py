"""The real container with fakes in place of the adapters (the cosmicpython `bootstrap_test_app`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path

from dependency_injector import providers

from entrypoints.container import Application, build
from entrypoints.settings import Settings
from outreach_core.domain.models import CampaignStep, Quotas
from outreach_core.domain.window import SendWindow
from outreach_core.policies.config import IdentityLimits, SendingPolicy
from outreach_core.policies.providers import Provider, ProviderLimits
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.records import Records
from outreach_core.services.admin import AdminService
from outreach_core.services.feedback import FeedbackService, ReplyService
from outreach_core.services.leads import LeadImportService
from outreach_core.services.planner import PlannerService
from outreach_core.services.sender import SenderService
from tests.fakes import FakeQueue, InMemoryArchive, InMemoryStateStore, ManualClock, ScriptedMailer

ALWAYS = SendWindow(timezone="UTC", days=(0, 1, 2, 3, 4, 5, 6), start=time(0, 0), end=time(0, 0))


@dataclass
class Harness:
    app: Application
    clock: ManualClock
    store: InMemoryStateStore
    queue: FakeQueue
    mailer: ScriptedMailer
    archive: InMemoryArchive

    @property
    def records(self) -> Records:
        return self.app.services.records()

    @property
    def admin(self) -> AdminService:
        return self.app.services.admin()

    @property
    def leads(self) -> LeadImportService:
        return self.app.services.leads()

    @property
    def planner(self) -> PlannerService:
        return self.app.services.planner()

    @property
    def sender(self) -> SenderService:
        return self.app.services.sender()

    @property
    def feedback(self) -> FeedbackService:
        return self.app.services.feedback()

    @property
    def replies(self) -> ReplyService:
        return self.app.services.replies()

    def drain(self, rounds: int = 50) -> list[str]:
        """Deliver every visible message to the sender (acking as the worker does); returns outcomes."""
        outcomes: list[str] = []
        for _ in range(rounds):
            messages = self.queue.receive(10)
            if not messages:
                break
            for message in messages:
                result = self.sender.handle(message)
                outcomes.append(result.outcome.value)
                if not result.redeliver:
                    self.queue.ack(message.receipt)
        return outcomes

    def tick_and_send(self, minutes: float = 6) -> list[str]:
        """One planner tick, then time moves on through each message's slot (sending what is visible at
        each), up to `minutes` later: sends happen at their own times, as the account's rate wants."""
        self.planner.tick()
        end = self.clock.now() + timedelta(minutes=minutes)
        outcomes: list[str] = []
        while True:
            outcomes += self.drain()
            pending = [
                m.visible_at
                for m in self.queue.messages.values()
                if not m.dead and m.visible_at > self.clock.now()
            ]
            if not pending or min(pending) > end:
                break
            self.clock.set(min(pending))
        self.clock.set(end)
        return outcomes + self.drain()


# The foundation's use-case tests check sequences, claims, caps and feedback, not pacing: they run
# with no per-minute/hour identity limits, no per-provider limits and no warm-up, so five due jobs go
# out in one drain. The policy engine's own tests (tests/unit/test_sender_policy.py, tests/property,
# the scenarios) run with the real defaults.
UNPACED = SendingPolicy(
    identity=IdentityLimits(per_minute=None, per_hour=None),
    providers={p: ProviderLimits(per_hour=None) for p in Provider},
    warmup=WarmupPlan(enabled=False),
)


def harness(
    tmp_path: Path,
    clock: ManualClock | None = None,
    policy: SendingPolicy | None = UNPACED,
    **settings: object,
) -> Harness:
    clock = clock or ManualClock()
    store, queue, mailer, archive = (
        InMemoryStateStore(),
        FakeQueue(clock),
        ScriptedMailer(),
        InMemoryArchive(),
    )
    app = build(
        Settings(
            workspace=tmp_path,
            unsubscribe_base_url="https://u.example.net/u",
            unsubscribe_secret="test-secret",
            **settings,  # type: ignore[arg-type]
        )
    )
    app.adapters.clock.override(providers.Object(clock))
    app.adapters.store.override(providers.Object(store))
    app.adapters.job_queue.override(providers.Object(queue))
    app.adapters.mailer.override(providers.Object(mailer))
    app.adapters.archive.override(providers.Object(archive))
    if policy is not None:
        app.services.sending_policy.override(providers.Object(policy))
    return Harness(app, clock, store, queue, mailer, archive)


def seed_tenant(
    h: Harness,
    *,
    tenant: str = "acme",
    identities: int = 2,
    cap: int = 50,
    hourly: int = 600,
    daily: int = 5000,
    steps: int = 3,
    window: SendWindow = ALWAYS,
    leads: list[str] | None = None,
    start: bool = True,
) -> list[str]:
    """A tenant with one direction, `identities` identities, a campaign of `steps` steps and its leads."""
    h.admin.add_tenant(
        tenant,
        tenant.title(),
        "1 Main Street, Springfield",
        window=window,
        quotas=Quotas(daily=daily, hourly=hourly),
    )
    h.admin.add_direction(tenant, "sales", "Sales")
    for n in range(identities):
        h.admin.add_identity(
            tenant, f"id{n}", f"rep{n}@{tenant}-mail.com", display_name=f"Rep {n}", daily_cap=cap
        )
    h.admin.add_template(
        tenant, "first", "{Hi|Hello} {{first_name|there}}", "Body for {{company|your team}}."
    )
    for n in range(2, steps + 1):
        h.admin.add_template(tenant, f"follow{n}", "", f"Follow-up {n}, {{{{first_name|friend}}}}.")
    plan = [CampaignStep(number=1, template_id="first")] + [
        CampaignStep(number=n, template_id=f"follow{n}", delay=timedelta(days=2)) for n in range(2, steps + 1)
    ]
    h.admin.add_campaign(tenant, "spring", "sales", plan)
    emails = leads if leads is not None else [f"lead{n}@example-corp{n % 3}.com" for n in range(5)]
    rows = "email,first_name,company\n" + "".join(f"{e},Name{n},Corp {n}\n" for n, e in enumerate(emails))
    h.leads.import_csv(tenant, rows.encode())
    if start:
        h.admin.start_campaign(tenant, "spring")
    return emails


def at(day: int, hour: int = 9, minute: int = 0) -> datetime:
    """January 2026: the 5th is a Monday."""
    return datetime(2026, 1, day, hour, minute, tzinfo=UTC)
