"""Read models: what an operator sees in `outreach status` and the demo's summary."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from outreach_core.domain.inbox import InboxMessage
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, Lead, LeadStatus, SenderIdentity
from outreach_core.policies import aimd, warmup
from outreach_core.policies.limits import Limit, from_micros, micros, window_used
from outreach_core.ports import Clock, JobQueue, QueueStats
from outreach_core.records import Records
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.reporting import (
    FAILED_STATUSES,
    FailureRow,
    Outcomes,
    VariantRow,
    funnels,
    mailbox_provider,
    step_timers,
)

# Jobs the provider accepted, whatever came back later.
EVER_SENT = frozenset({JobStatus.SENT, JobStatus.DELIVERED, JobStatus.BOUNCED, JobStatus.COMPLAINED})
OPEN = frozenset({JobStatus.PLANNED, JobStatus.QUEUED, JobStatus.SENDING})


@dataclass(frozen=True)
class CampaignStatusRow:
    tenant_id: str
    campaign_id: str
    status: str
    reason: str
    jobs: dict[str, int]
    bounce_rate: float
    window_sends: int
    skipped: int = 0  # leads of its list that list hygiene skipped (never sent to)
    waiting: int = 0  # leads whose next step is still to go (a step timer or an open job)
    next_at: datetime | None = None  # the earliest of those
    contacted: int = 0
    replied: int = 0

    @property
    def state(self) -> str:
        """What it is doing: "sending", "waiting", or "done" (no lead has a step left)."""
        if self.status != "running":
            return self.status
        if not self.waiting:
            return "done"
        return "sending" if self.jobs.get("queued", 0) + self.jobs.get("sending", 0) else "waiting"

    @property
    def reply_rate(self) -> float:
        return self.replied / self.contacted if self.contacted else 0.0


@dataclass(frozen=True)
class IdentityStatusRow:
    tenant_id: str
    identity_id: str
    email_domain: str
    status: str
    reason: str
    sent_today: int
    daily_cap: int
    complaint_rate: float
    sent_total: int
    warmup_cap_today: int = 0  # the ramp's cap for today (the daily cap once warmed up)
    warmup_schedule: tuple[int, ...] = ()  # today and the next six days, if every day is clean
    warmup_held_days: int = 0
    rate_factor: float = 1.0  # AIMD: 1.0 = full rate
    provider_pauses: tuple[str, ...] = ()  # "provider until HH:MM" while a sender block lasts


@dataclass(frozen=True)
class TenantStatusRow:
    tenant_id: str
    leads: dict[str, int]
    jobs: dict[str, int]
    smtp_accepted: int = 0  # of `sent`: accepted over SMTP (no delivery report follows)
    inbox_unhandled: int = 0  # inbox messages nobody has handled yet (`outreach inbox list --unhandled`)

    @property
    def sent(self) -> int:
        return sum(v for k, v in self.jobs.items() if JobStatus(k) in EVER_SENT)

    @property
    def outcomes(self) -> Outcomes:
        """Success and failure figures of this tenant's jobs (delivered, bounced, complained, failed)."""
        j = self.jobs
        return Outcomes(
            sent=self.sent,
            delivered=j.get("delivered", 0) + j.get("complained", 0),
            bounced=j.get("bounced", 0),
            complained=j.get("complained", 0),
            failed=j.get("failed", 0) + j.get("dead_lettered", 0),
            smtp=self.smtp_accepted,
        )


@dataclass(frozen=True)
class SkippedRow:
    """Leads list hygiene skipped, per tenant, list and reason (`outreach leads skipped` lists them)."""

    tenant_id: str
    list_name: str
    code: str
    count: int
    example: str  # one of the reasons, as the lead records it


@dataclass(frozen=True)
class ProviderStatusRow:
    """Per receiving mailbox provider (gmail, microsoft, yahoo, ...; see services.reporting)."""

    provider: str
    outcomes: Outcomes


@dataclass(frozen=True)
class _Warm:
    cap: int
    schedule: tuple[int, ...]
    held: int
    factor: float
    pauses: tuple[str, ...]
    sent_24h: int


@dataclass
class StatusReport:
    tenants: list[TenantStatusRow] = field(default_factory=list)
    campaigns: list[CampaignStatusRow] = field(default_factory=list)
    identities: list[IdentityStatusRow] = field(default_factory=list)
    dead_letters: int = 0
    providers: list[ProviderStatusRow] = field(default_factory=list)
    queue: QueueStats | None = None
    skipped: list[SkippedRow] = field(default_factory=list)
    variants: list[VariantRow] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)  # "tenant/campaign step N" -> A/B verdict

    @property
    def smtp_mode(self) -> bool:
        """Some mail went out over SMTP: `sent` means accepted by the server, delivery is not reported."""
        return any(t.smtp_accepted for t in self.tenants)


class StatusService:
    def __init__(self, records: Records, clock: Clock, guard: ReputationGuard, queue: JobQueue) -> None:
        self.records = records
        self.clock = clock
        self.guard = guard
        self.queue = queue

    def report(self, tenant_id: str | None = None) -> StatusReport:
        report = StatusReport(dead_letters=len(self.queue.dead_letters(limit=10_000)))
        report.queue = self.queue.stats()
        providers: dict[str, Outcomes] = {}
        for tenant in self.records.tenants():
            if tenant_id and tenant.id != tenant_id:
                continue
            jobs = self.records.jobs(tenant.id)
            all_leads = self.records.all(Lead, tenant.id)
            leads = Counter(lead.status.value for lead in all_leads)
            domains = {lead.id: lead.domain for lead in all_leads}
            for job in jobs:
                providers.setdefault(mailbox_provider(domains.get(job.lead_id, "")), Outcomes()).add(job)
            report.tenants.append(
                TenantStatusRow(
                    tenant.id,
                    dict(leads),
                    dict(Counter(j.status.value for j in jobs)),
                    sum(1 for j in jobs if j.transport == "smtp" and j.status in EVER_SENT),
                    sum(1 for m in self.records.all(InboxMessage, tenant.id) if not m.handled),
                )
            )
            skipped: dict[tuple[str, str], list[Lead]] = {}
            for lead in all_leads:
                if lead.status is LeadStatus.SKIPPED:
                    skipped.setdefault((lead.list_name, lead.skip_code), []).append(lead)
            report.skipped.extend(
                SkippedRow(tenant.id, name, code, len(rows), rows[0].status_reason)
                for (name, code), rows in sorted(skipped.items())
            )
            campaigns = self.records.all(Campaign, tenant.id)
            timers = step_timers(self.records, tenant.id)
            by_funnel = {
                f.campaign_id: f
                for f in funnels(tenant.id, campaigns, jobs, {lead.id: lead for lead in all_leads}, timers)
            }
            for campaign in campaigns:
                mine = [j for j in jobs if j.campaign_id == campaign.id]
                window = self.guard.window(tenant.id, "campaign", campaign.id, self.guard.rules.campaign)
                upcoming = [t.at for t in timers if t.campaign_id == campaign.id] + [
                    j.scheduled_at for j in mine if j.status in OPEN
                ]
                waiting = {t.lead_id for t in timers if t.campaign_id == campaign.id} | {
                    j.lead_id for j in mine if j.status in OPEN
                }
                funnel = by_funnel[campaign.id]
                report.campaigns.append(
                    CampaignStatusRow(
                        tenant.id,
                        campaign.id,
                        campaign.status.value,
                        campaign.status_reason,
                        dict(Counter(j.status.value for j in mine)),
                        window.rate("b"),
                        window.sends,
                        sum(len(rows) for (name, _), rows in skipped.items() if name == campaign.lead_list),
                        len(waiting),
                        min(upcoming, default=None),
                        funnel.contacted,
                        funnel.replied,
                    )
                )
                report.variants += funnel.variants
                for step, text in funnel.verdicts.items():
                    report.verdicts[f"{tenant.id}/{campaign.id} step {step}"] = text
            for identity in self.records.all(SenderIdentity, tenant.id):
                window = self.guard.window(tenant.id, "identity", identity.id, self.guard.rules.identity)
                warm = self._warmup(tenant.id, identity)
                report.identities.append(
                    IdentityStatusRow(
                        tenant.id,
                        identity.id,
                        identity.domain,
                        identity.status.value,
                        identity.status_reason,
                        warm.sent_24h,
                        identity.daily_cap,
                        window.rate("c"),
                        sum(1 for j in jobs if j.sender_id == identity.id and j.status in EVER_SENT),
                        warm.cap,
                        warm.schedule,
                        warm.held,
                        warm.factor,
                        warm.pauses,
                    )
                )
        report.providers = [
            ProviderStatusRow(name, outcomes)
            for name, outcomes in sorted(providers.items(), key=lambda kv: -kv[1].sent)
        ]
        return report

    def _warmup(self, tenant_id: str, identity: SenderIdentity) -> _Warm:
        limiter = self.guard.limiter
        policy = limiter.policy_for(tenant_id)
        state = limiter.identity_state(tenant_id, identity.id)
        now = self.clock.now()
        ramp = warmup.ramp(state.get("ramp", {}), now.date(), policy.warmup, identity.daily_cap)
        pauses = tuple(
            f"{provider} until {from_micros(int(doc['paused_until'])):%Y-%m-%d %H:%M}"
            for provider, doc in limiter.provider_state(tenant_id, identity.id)
            if int(doc.get("paused_until", 0)) > micros(now)
        )
        day = Limit(count=1, period_s=86400)
        return _Warm(
            int(ramp["cap"]),
            tuple(warmup.schedule(state.get("ramp", {}), now.date(), policy.warmup, identity.daily_cap)),
            int(ramp.get("held", 0)),
            aimd.factor_of(state.get("aimd"), policy.aimd, micros(now) / 1e6),
            pauses,
            window_used(state.get("day"), micros(now), day, policy.window_buckets),
        )

    def jobs_in(self, status: JobStatus, tenant_id: str | None = None) -> list[MessageJob]:
        tenants = [tenant_id] if tenant_id else [t.id for t in self.records.tenants()]
        return [j for t in tenants for j in self.records.jobs(t) if j.status is status]

    def job_rows(
        self,
        statuses: frozenset[JobStatus] = FAILED_STATUSES,
        tenant_id: str | None = None,
        campaign_id: str | None = None,
    ) -> list[tuple[MessageJob, FailureRow]]:
        """Jobs in these statuses with their recipient and reason (`outreach jobs list`)."""
        tenants = [tenant_id] if tenant_id else [t.id for t in self.records.tenants()]
        rows: list[tuple[MessageJob, FailureRow]] = []
        for tenant in tenants:
            emails = {lead.id: lead.email for lead in self.records.all(Lead, tenant)}
            for job in self.records.jobs(tenant, campaign_id):
                if job.status in statuses:
                    row = FailureRow(
                        tenant, job.campaign_id, job.step, emails.get(job.lead_id, "(erased)"),
                        job.status.value, job.status_reason,
                    )  # fmt: skip
                    rows.append((job, row))
        return rows
