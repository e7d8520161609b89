"""The report's read model: sends and outcomes over time, per tenant, identity and mailbox provider.

Figures come from the store (job records), not from metrics, so they are per tenant without any
per-tenant metric dimension, and the same on every backend. Outcomes are counted against the day the
message was sent (a cohort): "bounce rate on 5 Jan" is the share of the messages sent on 5 Jan that
bounced, whenever the bounce arrived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, Lead, LeadStatus, SenderIdentity
from outreach_core.policies.abtest import VariantFigures, verdict
from outreach_core.policies.providers import Provider, provider_for_domain
from outreach_core.ports import Clock
from outreach_core.records import Records, Timer, TimerKind

# The report's names for the providers of the policy's table of consumer domains (its labels predate
# the table). Business domains need an MX lookup, which reports do not do: they count as "other".
_LABELS = {Provider.GOOGLE: "gmail", Provider.ICLOUD: "apple", Provider.MAILRU: "mail.ru"}


def mailbox_provider(email_or_domain: str) -> str:
    provider = provider_for_domain(email_or_domain.rsplit("@", 1)[-1].strip())
    if provider is None:
        return "other"
    return _LABELS.get(provider, provider.value)


ACCEPTED = frozenset({JobStatus.SENT, JobStatus.DELIVERED, JobStatus.BOUNCED, JobStatus.COMPLAINED})


@dataclass
class Outcomes:
    """Counts for one group of messages the provider accepted, and the rates derived from them."""

    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    failed: int = 0  # not sent and never will be: failed, dead-lettered, bounced at the SMTP stage
    # Accepted over SMTP: the receiving server took it, and no delivery report will ever follow (only
    # bounces, as DSNs read over IMAP). Delivery rates are over the other sends; SMTP's are "n/a".
    smtp: int = 0

    def add(self, job: MessageJob) -> None:
        if job.status in ACCEPTED:
            self.sent += 1
            if job.transport == "smtp":
                self.smtp += 1
            if job.status in (JobStatus.DELIVERED, JobStatus.COMPLAINED):
                self.delivered += 1
            if job.status is JobStatus.BOUNCED:
                self.bounced += 1
            if job.status is JobStatus.COMPLAINED:
                self.complained += 1
        elif job.status in (JobStatus.FAILED, JobStatus.DEAD_LETTERED):
            self.failed += 1

    @property
    def pending(self) -> int:
        """Accepted, no delivery or bounce reported yet."""
        return self.sent - self.delivered - self.bounced

    def _rate(self, count: int) -> float:
        return count / self.sent if self.sent else 0.0

    @property
    def reporting(self) -> int:
        """Accepted sends whose transport reports deliveries (SES); SMTP reports bounces only."""
        return self.sent - self.smtp

    @property
    def delivery_rate(self) -> float:
        """Delivered over the sends that can report a delivery (0 when none can: see delivery_text)."""
        return self.delivered / self.reporting if self.reporting else 0.0

    @property
    def delivery_known(self) -> bool:
        return self.reporting > 0

    def delivery_text(self, digits: int = 1) -> str:
        """The delivery rate as people read it: "n/a (SMTP)" when only SMTP sent, never a false 0%."""
        if self.sent and not self.reporting:
            return "n/a (SMTP)"
        return f"{self.delivery_rate:.{digits}%}"

    @property
    def bounce_rate(self) -> float:
        return self._rate(self.bounced)

    @property
    def complaint_rate(self) -> float:
        return self._rate(self.complained)


@dataclass
class DayRow:
    day: date
    outcomes: Outcomes = field(default_factory=Outcomes)


@dataclass
class GroupRow:
    key: str  # tenant id, "tenant/identity" or provider name
    label: str = ""
    status: str = ""
    outcomes: Outcomes = field(default_factory=Outcomes)


@dataclass(frozen=True)
class SkippedLead:
    """A lead list hygiene skipped: never sent to, and why."""

    tenant_id: str
    list_name: str
    email: str
    code: str
    reason: str


@dataclass
class StepFunnel:
    step: int
    sent: int = 0
    delivered: int = 0
    bounced: int = 0
    complained: int = 0
    replied: int = 0  # leads who replied after this was the last step they were sent
    unsubscribed: int = 0  # likewise
    failed: int = 0  # not sent and never will be (failed, dead-lettered, uncertain)

    @property
    def reply_rate(self) -> float:
        return self.replied / self.sent if self.sent else 0.0


@dataclass
class VariantRow:
    tenant_id: str
    campaign_id: str
    step: int
    figures: VariantFigures


@dataclass
class CampaignFunnel:
    """Leads through a campaign: enrolled, contacted (step 1 went out), delivered, replied; per step."""

    tenant_id: str
    campaign_id: str
    status: str
    enrolled: int = 0
    contacted: int = 0
    delivered: int = 0  # leads with at least one delivered message
    replied: int = 0
    bounced: int = 0
    unsubscribed: int = 0
    steps: list[StepFunnel] = field(default_factory=list)
    variants: list[VariantRow] = field(default_factory=list)
    verdicts: dict[int, str] = field(default_factory=dict)  # step -> the A/B verdict

    @property
    def reply_rate(self) -> float:
        """The figure cold email is judged by: leads who replied over leads contacted."""
        return self.replied / self.contacted if self.contacted else 0.0


@dataclass(frozen=True)
class FailureRow:
    tenant_id: str
    campaign_id: str
    step: int
    email: str
    status: str
    reason: str


FAILED_STATUSES = frozenset({JobStatus.FAILED, JobStatus.DEAD_LETTERED, JobStatus.UNCERTAIN})
_DELIVERED = frozenset({JobStatus.DELIVERED, JobStatus.COMPLAINED})


def funnels(
    tenant_id: str,
    campaigns: list[Campaign],
    jobs: list[MessageJob],
    leads: dict[str, Lead],
    step_timers: list[Timer],
) -> list[CampaignFunnel]:
    """Per campaign and step. A reply or an unsubscribe counts for the last step sent to that lead in
    the campaign (the message it answered, in all likelihood), and for that step's variant."""
    return [
        _Funnel(tenant_id, campaign).build(
            [j for j in jobs if j.campaign_id == campaign.id],
            leads,
            {t.lead_id for t in step_timers if t.campaign_id == campaign.id},
        )
        for campaign in campaigns
    ]


class _Funnel:
    def __init__(self, tenant_id: str, campaign: Campaign) -> None:
        self.campaign = campaign
        self.funnel = CampaignFunnel(tenant_id, campaign.id, campaign.status.value)
        self.steps = {s.number: StepFunnel(s.number) for s in campaign.steps}
        self.variants: dict[tuple[int, str], list[int]] = {}  # sent, replied, bounced, unsubscribed
        self.last_sent: dict[str, MessageJob] = {}
        self.contacted: set[str] = set()
        self.delivered: set[str] = set()

    def build(self, jobs: list[MessageJob], leads: dict[str, Lead], waiting: set[str]) -> CampaignFunnel:
        for job in jobs:
            self._count(job)
        for lead_id, job in self.last_sent.items():
            lead = leads.get(lead_id)
            if lead is not None:
                self._answer(lead, job)
        funnel = self.funnel
        funnel.enrolled = len({j.lead_id for j in jobs} | waiting)
        funnel.contacted, funnel.delivered = len(self.contacted), len(self.delivered)
        funnel.steps = [self.steps[n] for n in sorted(self.steps)]
        for step in self.campaign.steps:
            if step.variants:
                figures = [
                    VariantFigures(t, *self.variants.get((step.number, t), [0, 0, 0, 0]))
                    for t in step.template_ids
                ]
                funnel.variants += [
                    VariantRow(funnel.tenant_id, funnel.campaign_id, step.number, f) for f in figures
                ]
                funnel.verdicts[step.number] = verdict(figures)
        return funnel

    def _count(self, job: MessageJob) -> None:
        row = self.steps.setdefault(job.step, StepFunnel(job.step))
        counts = self.variants.setdefault((job.step, job.template_id), [0, 0, 0, 0])
        if job.status in FAILED_STATUSES:
            row.failed += 1
        if job.status not in ACCEPTED:
            return
        row.sent += 1
        counts[0] += 1
        self.contacted.add(job.lead_id)
        if job.status in _DELIVERED:
            row.delivered += 1
            self.delivered.add(job.lead_id)
        if job.status is JobStatus.BOUNCED:
            row.bounced += 1
            counts[2] += 1
            self.funnel.bounced += 1
        if job.status is JobStatus.COMPLAINED:
            row.complained += 1
        previous = self.last_sent.get(job.lead_id)
        if previous is None or job.step > previous.step:
            self.last_sent[job.lead_id] = job

    def _answer(self, lead: Lead, job: MessageJob) -> None:
        counts = self.variants[(job.step, job.template_id)]
        if lead.status is LeadStatus.REPLIED:
            self.steps[job.step].replied += 1
            counts[1] += 1
            self.funnel.replied += 1
        elif lead.status is LeadStatus.UNSUBSCRIBED:
            self.steps[job.step].unsubscribed += 1
            counts[3] += 1
            self.funnel.unsubscribed += 1


def step_timers(records: Records, tenant_id: str) -> list[Timer]:
    items = records.store.query(f"T#{tenant_id}", f"TIMER#{TimerKind.STEP.value}#")
    return [Timer.model_validate(i.data) for i in items]


@dataclass
class ReportData:
    generated_at: datetime
    first_day: date
    last_day: date
    tenant_filter: str | None
    days: list[DayRow]
    tenants: list[GroupRow]
    identities: list[GroupRow]
    providers: list[GroupRow]
    jobs_by_status: dict[str, int]
    skipped: list[SkippedLead] = field(default_factory=list)
    funnels: list[CampaignFunnel] = field(default_factory=list)
    failures: list[FailureRow] = field(default_factory=list)

    @property
    def smtp_mode(self) -> bool:
        """Some mail went out over SMTP: accepted by the server, with no delivery reports."""
        return self.totals.smtp > 0

    @property
    def totals(self) -> Outcomes:
        total = Outcomes()
        for row in self.tenants:
            for name in ("sent", "delivered", "bounced", "complained", "failed", "smtp"):
                setattr(total, name, getattr(total, name) + getattr(row.outcomes, name))
        return total


class ReportService:
    def __init__(self, records: Records, clock: Clock) -> None:
        self.records = records
        self.clock = clock

    def build(self, days: int = 30, tenant_id: str | None = None) -> ReportData:
        now = self.clock.now()
        tenants = [t for t in self.records.tenants() if tenant_id in (None, t.id)]
        per_day: dict[date, DayRow] = {}
        tenant_rows: list[GroupRow] = []
        identity_rows: dict[str, GroupRow] = {}
        provider_rows: dict[str, GroupRow] = {}
        statuses: Counter[str] = Counter()
        jobs_all: list[MessageJob] = []
        skipped: list[SkippedLead] = []
        campaign_funnels: list[CampaignFunnel] = []
        failures: list[FailureRow] = []
        for tenant in tenants:
            leads = self.records.all(Lead, tenant.id)
            domains = {lead.id: lead.domain for lead in leads}
            skipped.extend(
                SkippedLead(tenant.id, lead.list_name, lead.email, lead.skip_code, lead.status_reason)
                for lead in leads
                if lead.status is LeadStatus.SKIPPED
            )
            for identity in self.records.all(SenderIdentity, tenant.id):
                key = f"{tenant.id}/{identity.id}"
                identity_rows[key] = GroupRow(key, identity.domain, identity.status.value)
            row = GroupRow(tenant.id, tenant.name)
            tenant_jobs = self.records.jobs(tenant.id)
            by_id = {lead.id: lead for lead in leads}
            campaign_funnels += funnels(
                tenant.id,
                self.records.all(Campaign, tenant.id),
                tenant_jobs,
                by_id,
                step_timers(self.records, tenant.id),
            )
            failures += [
                FailureRow(
                    tenant.id,
                    j.campaign_id,
                    j.step,
                    by_id[j.lead_id].email if j.lead_id in by_id else "(erased)",
                    j.status.value,
                    j.status_reason,
                )
                for j in tenant_jobs
                if j.status in FAILED_STATUSES
            ]
            for job in tenant_jobs:
                jobs_all.append(job)
                statuses[job.status.value] += 1
                row.outcomes.add(job)
                if job.sender_id:
                    ident = identity_rows.setdefault(
                        f"{tenant.id}/{job.sender_id}", GroupRow(f"{tenant.id}/{job.sender_id}")
                    )
                    ident.outcomes.add(job)
                provider = mailbox_provider(domains.get(job.lead_id, ""))
                provider_rows.setdefault(provider, GroupRow(provider)).outcomes.add(job)
            tenant_rows.append(row)
        sent_days = [j.sent_at.date() for j in jobs_all if j.sent_at is not None and j.status in ACCEPTED]
        last_day = max(sent_days, default=now.date())
        first_day = max(min(sent_days, default=last_day), last_day - timedelta(days=days - 1))
        for offset in range((last_day - first_day).days + 1):
            day = first_day + timedelta(days=offset)
            per_day[day] = DayRow(day)
        for job in jobs_all:
            if job.sent_at is not None and job.status in ACCEPTED and job.sent_at.date() in per_day:
                per_day[job.sent_at.date()].outcomes.add(job)
        return ReportData(
            generated_at=now,
            first_day=first_day,
            last_day=last_day,
            tenant_filter=tenant_id,
            days=[per_day[d] for d in sorted(per_day)],
            tenants=tenant_rows,
            identities=sorted(identity_rows.values(), key=lambda r: r.key),
            providers=sorted(provider_rows.values(), key=lambda r: -r.outcomes.sent),
            jobs_by_status=dict(sorted(statuses.items())),
            skipped=skipped,
            funnels=campaign_funnels,
            failures=failures,
        )
