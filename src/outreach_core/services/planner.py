"""The planner: turns due step timers into claimed, slotted, enqueued jobs. Runs on a schedule.

Per tenant and tick it reads the timers due within the horizon and
  - step:  checks campaign, lead and suppression, moves the time into the lead's sending window,
           admits it under the tenant's quotas, places it in a slot with jitter, claims the job by a
           conditional write (the idempotency key: a second claim of the same step fails) and enqueues;
  - wake:  enqueues a claimed job that is not in the queue (a crash between claim and enqueue, a job
           parked for longer than the queue can delay, a job reopened on resume);
  - lease: a sender's lease on a `sending` job expired: the job becomes `uncertain` (never resent).
"""

from __future__ import annotations

import contextlib
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

import structlog
from pydantic import BaseModel, ConfigDict

from outreach_core.domain.ids import idempotency_key, stable_fraction
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    IdentityStatus,
    Lead,
    LeadStatus,
    SenderIdentity,
    Tenant,
)
from outreach_core.policies.admission import TokenBucket
from outreach_core.ports import Clock, ConditionFailed, JobQueue, Put, QueueMessage
from outreach_core.records import Records, Timer, TimerKind, stamp
from outreach_core.services.jobs import JobMessage, day_key

log = structlog.get_logger(__name__)


class PlannerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    horizon: timedelta = timedelta(minutes=5)  # plan what is due within this; also the slotting span


@dataclass
class PlanReport:
    planned: int = 0
    enqueued: int = 0
    stopped: int = 0  # sequences that ended at a lead that replied, bounced, unsubscribed or is suppressed
    uncertain: int = 0
    deferred: int = 0  # due, but over the tenant's quotas this tick
    next_due: datetime | None = None
    per_tenant: dict[str, int] = field(default_factory=dict)


@dataclass
class _Admission:
    bucket: TokenBucket
    bucket_version: int
    quota: dict[str, int]
    quota_version: int
    quota_sort: str
    daily: int
    capacity: dict[str, int]

    @property
    def exhausted(self) -> bool:
        return self.bucket.tokens < 1 - 1e-9 or self.quota.get("total", 0) >= self.daily

    def take(self, direction: str) -> bool:
        """Admit one job of this direction, if its identities have room today and a token is left."""
        if self.capacity.get(direction, 0) <= 0 or self.exhausted:
            return False
        self.bucket.take()
        self.capacity[direction] -= 1
        self.quota["total"] = self.quota.get("total", 0) + 1
        self.quota[f"dir:{direction}"] = self.quota.get(f"dir:{direction}", 0) + 1
        return True

    def state_puts(self, records: Records, tenant_id: str, now: datetime) -> list[Put]:
        expires = int((now + timedelta(days=3)).timestamp())
        return [
            records.state_put(tenant_id, self.quota_sort, self.quota, self.quota_version, ttl=expires),
            records.state_put(tenant_id, "ADMIT", self.bucket.dump(), self.bucket_version),
        ]


@dataclass
class _Candidate:
    timer: Timer
    at: datetime
    campaign: Campaign


class PlannerService:
    def __init__(
        self, records: Records, queue: JobQueue, clock: Clock, config: PlannerConfig | None = None
    ) -> None:
        self.records = records
        self.queue = queue
        self.clock = clock
        self.config = config or PlannerConfig()
        if self.config.horizon.total_seconds() > queue.max_delay_seconds:
            raise ValueError("the planning horizon cannot exceed the queue's maximum delay")

    def tick(self) -> PlanReport:
        now = self.clock.now()
        report = PlanReport()
        for tenant in self.records.tenants():
            self._plan_tenant(tenant, now, report)
        return report

    # --- per tenant -------------------------------------------------------------------------------

    def _plan_tenant(self, tenant: Tenant, now: datetime, report: PlanReport) -> None:
        for timer in self.records.timers_due(tenant.id, TimerKind.LEASE, now):
            self._expire_lease(timer, now, report)
        for timer in self.records.timers_due(tenant.id, TimerKind.WAKE, now + self.config.horizon):
            self._wake(timer, now, report)
        self._plan_steps(tenant, now, report)
        upcoming = self.records.next_timer(tenant.id)
        if upcoming is not None and (report.next_due is None or upcoming.at < report.next_due):
            report.next_due = max(upcoming.at, now)

    def _plan_steps(self, tenant: Tenant, now: datetime, report: PlanReport) -> None:
        """Read due step timers, oldest first, only as far as the tenant's quotas reach this tick."""
        until = now + self.config.horizon
        if not self.records.timers_due(tenant.id, TimerKind.STEP, until, limit=1):
            return
        admission = self._admission(tenant, now)
        if admission.exhausted:
            return
        campaigns = {c.id: c for c in self.records.all(Campaign, tenant.id)}
        admitted: list[_Candidate] = []
        after: str | None = None
        while not admission.exhausted:
            page = self.records.timers_due(tenant.id, TimerKind.STEP, until, after=after, limit=100)
            if not page:
                break
            for timer in page:
                after = timer.sort
                candidate = self._due_step(
                    tenant, timer, campaigns.get(timer.campaign_id), now, until, report
                )
                if candidate is None:
                    continue
                if not admission.take(candidate.campaign.direction_id):
                    # This direction's identities are booked for today: look again tomorrow.
                    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
                    self._refile(timer, tomorrow)
                    report.deferred += 1
                    continue
                admitted.append(candidate)
                if admission.exhausted:
                    break
        if not admitted:
            return
        try:
            self.records.store.write(*admission.state_puts(self.records, tenant.id, now))
        except ConditionFailed:  # another planner ran at the same time: leave this tick's work to the next
            log.warning("planner.concurrent_tick", tenant_id=tenant.id)
            return
        spacing = self.config.horizon / len(admitted)
        for index, candidate in enumerate(admitted):
            jitter = spacing * stable_fraction(candidate.timer.job_id, "slot")
            slot = max(candidate.at, now + spacing * index + jitter)
            self._claim(tenant, candidate, slot, now, report)
        report.per_tenant[tenant.id] = report.per_tenant.get(tenant.id, 0) + len(admitted)

    def _due_step(
        self,
        tenant: Tenant,
        timer: Timer,
        campaign: Campaign | None,
        now: datetime,
        until: datetime,
        report: PlanReport,
    ) -> _Candidate | None:
        drop = self.records.timer_delete(timer)
        if (
            campaign is None
            or campaign.status is not CampaignStatus.RUNNING
            or not campaign.has_step(timer.step)
        ):
            self.records.store.write(drop)  # resume rebuilds the timers of a paused campaign from its jobs
            return None
        lead = self.records.find(Lead, tenant.id, timer.lead_id)
        if (
            lead is None
            or lead.status is not LeadStatus.ACTIVE
            or self.records.suppression_for(tenant.id, lead.email)
        ):
            self.records.store.write(drop)
            report.stopped += 1
            return None
        window = (campaign.step(timer.step).window or tenant.window).in_zone(lead.timezone)
        at = window.next_open(max(timer.at, now))
        if at > until:
            self._refile(timer, at)
            return None
        return _Candidate(timer=timer, at=at, campaign=campaign)

    def _refile(self, timer: Timer, at: datetime) -> None:
        """Move a timer to a later time (a no-op when that is where it already is, to the second)."""
        moved = timer.model_copy(update={"at": at})
        if moved.sort != timer.sort:
            self.records.store.write(self.records.timer_delete(timer), self.records.timer_put(moved))

    def _admission(self, tenant: Tenant, now: datetime) -> _Admission:
        """How much this tick may admit: the hourly token bucket, the daily quota, identity capacity."""
        quota_sort = f"QUOTA#{day_key(now)}"
        quota, quota_version = self.records.state(tenant.id, quota_sort)
        bucket_doc, bucket_version = self.records.state(tenant.id, "ADMIT")
        burst = max(1.0, tenant.quotas.hourly * self.config.horizon.total_seconds() / 3600)
        bucket = TokenBucket.restore(
            bucket_doc, rate_per_s=tenant.quotas.hourly / 3600.0, burst=burst, now=now
        )
        capacity: dict[str, int] = defaultdict(int)
        directions = {c.direction_id for c in self.records.all(Campaign, tenant.id)}
        for identity in self.records.all(SenderIdentity, tenant.id):
            if identity.status is IdentityStatus.ACTIVE:
                for direction in directions:
                    if identity.serves(direction):
                        capacity[direction] += identity.daily_cap
        for direction in directions:
            capacity[direction] -= int(quota.get(f"dir:{direction}", 0))
        return _Admission(
            bucket, bucket_version, quota, quota_version, quota_sort, tenant.quotas.daily, capacity
        )

    def _claim(
        self, tenant: Tenant, candidate: _Candidate, slot: datetime, now: datetime, report: PlanReport
    ) -> None:
        timer = candidate.timer
        step = candidate.campaign.step(timer.step)
        job = MessageJob(
            job_id=timer.job_id,
            tenant_id=tenant.id,
            campaign_id=timer.campaign_id,
            lead_id=timer.lead_id,
            step=timer.step,
            template_id=step.template_id,
            scheduled_at=slot,
            idempotency_key=idempotency_key(tenant.id, timer.campaign_id, timer.lead_id, timer.step),
            updated_at=now,
        )
        wake = timer.model_copy(update={"kind": TimerKind.WAKE, "at": now})
        try:
            self.records.store.write(
                self.records.job_op(job, expected_version=0),
                self.records.timer_delete(timer),
                self.records.timer_put(wake),
            )
        except ConditionFailed:
            # The step was claimed before (the idempotency key is taken): never plan it twice.
            self.records.store.write(self.records.timer_delete(timer))
            log.info("planner.already_claimed", tenant_id=tenant.id, job_id=job.job_id)
            return
        report.planned += 1
        self._enqueue(job.model_copy(update={"version": 1}), wake, now, report)

    # --- wake and lease timers --------------------------------------------------------------------

    def _enqueue(self, job: MessageJob, wake: Timer, now: datetime, report: PlanReport) -> None:
        delay = max(0, math.ceil((job.scheduled_at - now).total_seconds()))
        self.queue.send(
            QueueMessage(
                body=JobMessage(tenant_id=job.tenant_id, job_id=job.job_id).dump(), group=job.tenant_id
            ),
            delay_seconds=min(delay, self.queue.max_delay_seconds),
        )
        # ConditionFailed: a sender already took it from the queue; the message did its work.
        with contextlib.suppress(ConditionFailed):
            self.records.save_job(job.moved(JobStatus.QUEUED, now), self.records.timer_delete(wake))
        report.enqueued += 1

    def _wake(self, timer: Timer, now: datetime, report: PlanReport) -> None:
        job = self.records.job(timer.tenant_id, timer.job_id)
        if job is None or job.status is not JobStatus.PLANNED:
            self.records.store.write(self.records.timer_delete(timer))
            return
        if job.scheduled_at - now > timedelta(seconds=self.queue.max_delay_seconds):
            return  # parked for longer than the queue can hold it; this timer comes due again
        self._enqueue(job, timer, now, report)

    def _expire_lease(self, timer: Timer, now: datetime, report: PlanReport) -> None:
        job = self.records.job(timer.tenant_id, timer.job_id)
        drop = self.records.timer_delete(timer)
        if job is None or job.status is not JobStatus.SENDING or (job.lease_until and job.lease_until > now):
            self.records.store.write(drop)
            return
        uncertain = job.moved(
            JobStatus.UNCERTAIN, now, "the sender stopped between handing it over and recording the result"
        )
        try:
            self.records.save_job(uncertain, drop)
        except ConditionFailed:
            return
        report.uncertain += 1
        log.warning(
            "job.uncertain",
            tenant_id=job.tenant_id,
            campaign_id=job.campaign_id,
            job_id=job.job_id,
            lease_until=stamp(job.lease_until or now),
        )
