"""`outreach leads show`: one lead's place in each sequence, step by step, and why it is waiting.

For every step of every campaign on the lead's list: what happened (planned, sent, delivered, bounced,
cancelled... with the time and the sender), and for the step that is next, when it may go and what
holds it back now, with the numbers: the sending window (and its holidays), another sequence the
lead is in, the tenant's quotas, each identity's warm-up cap, minute and hour limits, a pause at the
lead's mailbox provider. Read only, from the same state the planner and the sender decide on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from outreach_core.domain.addresses import AddressError, canonical_email
from outreach_core.domain.ids import job_id_for, lead_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    IdentityStatus,
    Lead,
    LeadStatus,
    Overlap,
    SenderIdentity,
    Tenant,
)
from outreach_core.domain.window import zone
from outreach_core.policies.limits import Limit, micros, window_used
from outreach_core.ports import Clock
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.services.jobs import day_key
from outreach_core.services.lifecycle import ADVANCING, OPEN_STATUSES
from outreach_core.services.limiter import SendLimiter, prov_sort


@dataclass(frozen=True)
class StepLine:
    step: int
    template: str
    state: str  # planned | waiting | queued | sent | delivered | bounced | cancelled | ... | not yet | ended
    at: datetime | None  # when it went, or when it may go next
    detail: str = ""  # the job's reason, the sender, the revision
    holds: tuple[str, ...] = ()  # for the next step: each limit or window holding it back, with numbers


@dataclass(frozen=True)
class CampaignLine:
    campaign: str
    status: str
    steps: list[StepLine]


@dataclass
class LeadView:
    lead: Lead
    suppressed: str = ""
    campaigns: list[CampaignLine] = field(default_factory=list)


class LeadTimeline:
    def __init__(self, records: Records, clock: Clock, limiter: SendLimiter) -> None:
        self.records = records
        self.clock = clock
        self.limiter = limiter

    def show(self, tenant_id: str, email: str) -> LeadView:
        try:
            address = canonical_email(email)
        except AddressError as exc:
            raise ValueError(str(exc)) from exc
        tenant = self.records.tenant(tenant_id)
        lead = self.records.get(Lead, tenant_id, lead_id_for(tenant_id, address))
        entry = self.records.suppression_for(tenant_id, lead.email)
        view = LeadView(lead, f"{entry.scope.value}: {entry.reason.value}" if entry else "")
        timers = {
            t.job_id: t
            for t in (
                Timer.model_validate(i.data)
                for i in self.records.store.query(f"T#{tenant_id}", f"TIMER#{TimerKind.STEP.value}#")
            )
            if t.lead_id == lead.id
        }
        for campaign in self.records.all(Campaign, tenant_id):
            jobs = {j.step: j for j in self.records.lead_campaign_jobs(tenant_id, campaign.id, lead.id)}
            if campaign.lead_list != lead.list_name and not jobs:
                continue
            status = campaign.status.value + (" (lead removed)" if campaign.id in lead.removed_from else "")
            view.campaigns.append(
                CampaignLine(campaign.id, status, self._steps(tenant, campaign, lead, jobs, timers))
            )
        return view

    def _steps(
        self,
        tenant: Tenant,
        campaign: Campaign,
        lead: Lead,
        jobs: dict[int, MessageJob],
        timers: dict[str, Timer],
    ) -> list[StepLine]:
        lines: list[StepLine] = []
        ended = False
        for step in campaign.steps:
            job = jobs.get(step.number)
            template = step.template_for(tenant.id, campaign.id, lead.id)
            if job is not None:
                lines.append(self._job_line(tenant, campaign, lead, job))
                ended = job.status not in ADVANCING and job.status not in OPEN_STATUSES
                continue
            timer = timers.get(job_id_for(campaign.id, lead.id, step.number))
            if timer is not None:
                holds = self._holds(tenant, campaign, lead, timer.at, step.number) if not ended else ()
                lines.append(StepLine(step.number, template, "planned", timer.at, "step timer", holds))
            elif (
                ended or lead.status is not LeadStatus.ACTIVE or campaign.status is not CampaignStatus.RUNNING
            ):
                why = "sequence ended" if ended else f"lead {lead.status.value}"
                if campaign.status is not CampaignStatus.RUNNING and not ended:
                    why = f"campaign {campaign.status.value}"
                lines.append(StepLine(step.number, template, "-", None, why))
                ended = True
            else:
                lines.append(
                    StepLine(step.number, template, "not yet", None, f"after step {step.number - 1}")
                )
        return lines

    def _job_line(self, tenant: Tenant, campaign: Campaign, lead: Lead, job: MessageJob) -> StepLine:
        revision = f" r{job.template_revision}" if job.template_revision else ""
        sender = f"from {job.sender_id}" if job.sender_id else ""
        if job.status in ADVANCING or job.status in (JobStatus.BOUNCED, JobStatus.COMPLAINED):
            detail = ", ".join(x for x in (sender, job.status_reason) if x)
            return StepLine(job.step, job.template_id + revision, job.status.value, job.sent_at, detail)
        if job.status in OPEN_STATUSES:
            holds = self._holds(tenant, campaign, lead, job.scheduled_at, job.step)
            state = "waiting" if job.status_reason else job.status.value
            reason = job.status_reason or f"{job.status.value}, slot booked"
            return StepLine(job.step, job.template_id, state, job.scheduled_at, reason, holds)
        return StepLine(
            job.step, job.template_id + revision, job.status.value, job.updated_at, job.status_reason
        )

    # --- what holds the next step back ----------------------------------------------------------------

    def _holds(
        self, tenant: Tenant, campaign: Campaign, lead: Lead, due: datetime, step: int
    ) -> tuple[str, ...]:
        now = self.clock.now()
        holds: list[str] = []
        if due > now:
            holds.append(f"due {due:%Y-%m-%d %H:%M} UTC")
        if lead.status is not LeadStatus.ACTIVE:
            holds.append(f"lead {lead.status.value}")
        if campaign.status is not CampaignStatus.RUNNING:
            holds.append(f"campaign {campaign.status.value}")
        window = (campaign.step(step).window or tenant.window).in_zone(lead.timezone)
        closed = tenant.holidays.closed_for(lead.country)
        if not window.contains(now, closed):  # closed now, which is also why a step may stand later
            opens = window.next_open(max(due, now), closed)
            holiday = tenant.holidays.holiday(now.astimezone(zone(window.timezone)).date(), lead.country)
            what = f"holiday: {holiday}" if holiday else f"window {window.describe()} is closed now"
            holds.append(f"{what}; opens {opens:%a %Y-%m-%d %H:%M} UTC")
        if tenant.overlap is not Overlap.PARALLEL and not self.records.lead_campaign_jobs(
            tenant.id, campaign.id, lead.id
        ):
            other = self._other_sequence(tenant, campaign, lead)
            if other:
                holds.append(f"in the sequence of campaign {other} (tenant policy: {tenant.overlap.value})")
        holds.extend(self._quota_holds(tenant, now))
        holds.extend(self._identity_holds(tenant, campaign, lead, now))
        return tuple(holds)

    def _other_sequence(self, tenant: Tenant, campaign: Campaign, lead: Lead) -> str | None:
        for other in self.records.all(Campaign, tenant.id):
            if other.id == campaign.id or other.lead_list != lead.list_name:
                continue
            if other.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED):
                continue
            jobs = self.records.lead_campaign_jobs(tenant.id, other.id, lead.id)
            if jobs:
                last = max(jobs, key=lambda j: j.step)
                if last.status in OPEN_STATUSES or (
                    last.status in ADVANCING and other.has_step(last.step + 1)
                ):
                    return other.id
        return None

    def _quota_holds(self, tenant: Tenant, now: datetime) -> list[str]:
        quota, _ = self.records.state(tenant.id, f"QUOTA#{day_key(now)}")
        admitted = int(quota.get("total", 0))
        if admitted >= tenant.quotas.daily:
            return [f"tenant daily quota: {admitted} of {tenant.quotas.daily} admitted today (UTC)"]
        return []

    def _identity_holds(self, tenant: Tenant, campaign: Campaign, lead: Lead, now: datetime) -> list[str]:
        policy = self.limiter.policy_for(tenant.id)
        provider = self.limiter.directory.provider(lead.domain)
        day = Limit(count=1, period_s=86400)
        notes: list[str] = []
        free = 0
        identities = [
            i for i in self.records.all(SenderIdentity, tenant.id) if i.serves(campaign.direction_id)
        ]
        for identity in identities:
            if identity.status is not IdentityStatus.ACTIVE:
                notes.append(f"identity {identity.id} {identity.status.value}")
                continue
            state = self.limiter.identity_state(tenant.id, identity.id)
            cap = int(self.limiter.ramp_state(tenant.id, identity, now)["cap"])
            used = window_used(state.get("day"), micros(now), day, policy.window_buckets)
            paused = self.records.store.get(f"T#{tenant.id}", prov_sort(identity.id, provider.value))
            until = int(paused.data.get("paused_until", 0)) if paused else 0
            if until > micros(now):
                notes.append(f"identity {identity.id} paused at {provider.value}")
            elif used >= cap:
                warm = f" (warm-up; daily cap {identity.daily_cap})" if cap < identity.daily_cap else ""
                notes.append(f"identity {identity.id}: {used} of {cap} sent in the last 24 h{warm}")
            else:
                free += 1
        if not identities:
            notes.append(f"no sender identity serves direction {campaign.direction_id}")
        elif free:
            limits = policy.identity
            pace = ", ".join(
                f"{n} per {unit}"
                for n, unit in ((limits.per_minute, "minute"), (limits.per_hour, "hour"))
                if n
            )
            notes = [n for n in notes if "paused" in n or "blocked" in n]
            if pace:
                notes.append(f"{free} identity(ies) with room today, each at most {pace}")
        return notes
