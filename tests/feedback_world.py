"""A small, fully in-memory world for the feedback tests: one tenant, one identity, a 3-step campaign,
a few leads, and every service wired on the hand-written fakes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from adapters.feedback_ingest import EventIngestor
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import CampaignStep, Lead
from outreach_core.ports import MailProvider
from outreach_core.records import Records
from outreach_core.services.admin import AdminService
from outreach_core.services.feedback import FeedbackService, ReplyService
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.leads import LeadImportService
from outreach_core.services.limiter import SendLimiter
from outreach_core.services.planner import PlannerService
from outreach_core.services.sender import Outcome, SenderConfig, SenderService
from outreach_core.services.suppression import SuppressionService
from tests.fakes import FakeQueue, InMemoryArchive, InMemoryStateStore, ManualClock, ScriptedMailer
from tests.harness import UNPACED

TENANT = "acme"
CAMPAIGN = "spring"
SECRET = "test-unsubscribe-secret"
LEADS = ("ann@client.example", "bob@client.example", "cat@other.example")


@dataclass
class World:
    clock: ManualClock
    store: InMemoryStateStore
    records: Records
    queue: FakeQueue
    mailer: MailProvider
    archive: InMemoryArchive
    suppression: SuppressionService
    guard: ReputationGuard
    feedback: FeedbackService
    replies: ReplyService
    planner: PlannerService
    sender: SenderService
    ingestor: EventIngestor
    outcomes: list[Outcome] = field(default_factory=list)

    def lead(self, email: str) -> Lead:
        return self.records.get(Lead, TENANT, lead_id_for(TENANT, email))

    def jobs_of(self, email: str) -> list[MessageJob]:
        lead_id = lead_id_for(TENANT, email)
        return [j for j in self.records.jobs(TENANT) if j.lead_id == lead_id]

    def job(self, email: str, step: int = 1) -> MessageJob:
        return next(j for j in self.jobs_of(email) if j.step == step)

    def plan(self) -> None:
        self.planner.tick()

    def send_due(self, *, advance: timedelta = timedelta(minutes=6)) -> None:
        """Plan, let the queue delays pass, and hand every visible message to the sender."""
        self.plan()
        self.clock.advance(advance)
        while messages := self.queue.receive(10):
            for message in messages:
                result = self.sender.handle(message)
                self.outcomes.append(result.outcome)
                if not result.redeliver:
                    self.queue.ack(message.receipt)

    def status(self, email: str, step: int = 1) -> JobStatus:
        return self.job(email, step).status


def build_world(
    mailer: MailProvider | None = None, *, leads: tuple[str, ...] = LEADS, reply_to: str = ""
) -> World:
    clock = ManualClock()
    store = InMemoryStateStore()
    records = Records(store)
    queue = FakeQueue(clock, visibility_timeout=300)
    archive = InMemoryArchive()
    suppression = SuppressionService(records)
    guard = ReputationGuard(records, clock, limiter=SendLimiter(records, UNPACED))
    feedback = FeedbackService(records, clock, guard, suppression)
    replies = ReplyService(records, clock, suppression, secrets=[SECRET])
    world = World(
        clock=clock,
        store=store,
        records=records,
        queue=queue,
        mailer=mailer or ScriptedMailer(),
        archive=archive,
        suppression=suppression,
        guard=guard,
        feedback=feedback,
        replies=replies,
        planner=PlannerService(records, queue, clock, guard=guard),
        sender=SenderService(
            records,
            queue,
            mailer or ScriptedMailer(),
            clock,
            guard,
            suppression,
            SenderConfig(unsubscribe_base_url="https://u.example/unsubscribe", unsubscribe_secret=SECRET),
        ),
        ingestor=EventIngestor(archive, feedback, replies, clock),
    )
    world.sender.mailer = world.mailer
    admin = AdminService(records, clock)
    admin.add_tenant(TENANT, "Acme", "1 Main Street, Springfield")
    admin.add_direction(TENANT, "saas", "SaaS")
    admin.add_identity(TENANT, "ivan", "ivan@acme.example", daily_cap=500, reply_to=reply_to)
    admin.add_template(TENANT, "first", "Hello {{first_name|there}}", "Hi {{first_name|there}}, a word.")
    admin.add_template(TENANT, "follow", "", "Just following up.")
    admin.add_campaign(
        TENANT,
        CAMPAIGN,
        "saas",
        [
            CampaignStep(number=1, template_id="first"),
            CampaignStep(number=2, template_id="follow", delay=timedelta(days=2)),
            CampaignStep(number=3, template_id="follow", delay=timedelta(days=3)),
        ],
    )
    csv = "email,first_name\n" + "".join(f"{e},{e.split('@')[0].title()}\n" for e in leads)
    LeadImportService(records, clock).import_csv(TENANT, csv.encode())
    admin.start_campaign(TENANT, CAMPAIGN)
    return world
