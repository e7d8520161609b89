"""Life cycles a person steers: a lead paused, resumed, taken out of a campaign or finished, a lead
active again once its suppression is lifted; and a campaign found complete when every enrolled lead's
sequence is over.

A lead's place in a sequence is its jobs and its step timers (services.sequence): stopping deletes its
timers and cancels what is planned or queued; going on rebuilds the timers from its jobs, as a campaign
resume does, so nothing is sent twice and nothing is skipped.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog

from outreach_core.domain.addresses import AddressError, canonical_email
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, CampaignStatus, Lead, LeadStatus
from outreach_core.ports import Clock, ConditionFailed, Delete, Put
from outreach_core.records import NotFoundError, Records, Timer, TimerKind
from outreach_core.services.audit import AuditTrail
from outreach_core.services.sequence import pending_timers

log = structlog.get_logger(__name__)

OPEN_STATUSES = frozenset({JobStatus.PLANNED, JobStatus.QUEUED, JobStatus.SENDING})
ADVANCING = frozenset({JobStatus.SENT, JobStatus.DELIVERED})
# Jobs that wait for a person (redrive a dead letter, resolve an uncertain send): not over yet.
NEEDS_A_PERSON = frozenset({JobStatus.DEAD_LETTERED, JobStatus.UNCERTAIN})
RECHECK = timedelta(hours=1)
PAUSED_LEAD = "lead paused"
REMOVED = "removed from the campaign"
FINISHED = "lead finished"
# A lead whose sequence stopped because of what was lifted can go on; a reply or hygiene cannot.
REACTIVATABLE = frozenset({LeadStatus.BOUNCED, LeadStatus.COMPLAINED, LeadStatus.UNSUBSCRIBED})


def _step_timers(records: Records, tenant_id: str) -> list[Timer]:
    items = records.store.query(f"T#{tenant_id}", f"TIMER#{TimerKind.STEP.value}#")
    return [Timer.model_validate(i.data) for i in items]


def _write(records: Records, ops: Sequence[Put | Delete]) -> None:
    for start in range(0, len(ops), 25):  # DynamoDB transactions: stay well below 100 items
        records.store.write(*ops[start : start + 25])


class CampaignCompletion:
    """COMPLETED, set by the planner: no open job, no job waiting for a person, no step still due.
    Checked rarely: not before the shortest sequence could end, then when its last step timer comes due
    (hourly while jobs are open), so a check reads a campaign's jobs a few times in its life."""

    def __init__(self, records: Records, clock: Clock) -> None:
        self.records = records
        self.clock = clock
        self.audit = AuditTrail(records)

    def check(self, tenant_id: str, now: datetime, *, force: bool = False) -> int:
        """Complete the tenant's running campaigns that are over; `force` looks now, whatever the
        schedule says (the demo's last moment). Returns how many were completed."""
        completed = 0
        for campaign in self.records.all(Campaign, tenant_id):
            if campaign.status is not CampaignStatus.RUNNING or campaign.started_at is None:
                continue
            sort = f"DONE#{campaign.id}"
            doc, version = self.records.state(tenant_id, sort)
            if not force and doc.get("next") and now < datetime.fromisoformat(str(doc["next"])):
                continue
            upcoming = self._next_look(campaign, now)
            if upcoming is None and self._complete(campaign, now):
                completed += 1
                continue
            with contextlib.suppress(ConditionFailed):
                when = (upcoming or now + RECHECK).isoformat()
                self.records.store.write(self.records.state_put(tenant_id, sort, {"next": when}, version))
        return completed

    def _next_look(self, campaign: Campaign, now: datetime) -> datetime | None:
        """None: the campaign is over. Otherwise when to look again."""
        assert campaign.started_at is not None
        shortest = campaign.started_at + sum((s.delay for s in campaign.steps), timedelta(0))
        if now < shortest:
            return shortest
        waiting = OPEN_STATUSES | NEEDS_A_PERSON
        if any(status in waiting for status in self.records.job_statuses(campaign.tenant_id, campaign.id)):
            return now + RECHECK
        items = self.records.store.query(f"T#{campaign.tenant_id}", f"TIMER#{TimerKind.STEP.value}#")
        due = [Timer.model_validate(i.data).at for i in items if i.data.get("campaign_id") == campaign.id]
        if due:
            return max(*due, now + RECHECK)
        return None

    def _complete(self, campaign: Campaign, now: datetime) -> bool:
        done = campaign.model_copy(
            update={
                "status": CampaignStatus.COMPLETED,
                "status_reason": "every enrolled lead's sequence is over",
            }
        )
        try:
            self.records.replace(done)
        except ConditionFailed:  # changed meanwhile (paused, stopped): look again next tick
            return False
        self.audit.record(campaign.tenant_id, now, "system:planner", "campaign.completed", campaign.id)
        log.info("campaign.completed", tenant_id=campaign.tenant_id, campaign_id=campaign.id)
        return True


@dataclass(frozen=True)
class LeadChange:
    lead: Lead
    cancelled: int = 0  # planned or queued jobs cancelled
    reopened: int = 0  # jobs a pause had cancelled, planned again
    timers: int = 0  # step timers written (going on) or deleted (stopping)
    campaigns: tuple[str, ...] = ()


class LeadActions:
    """What a person does to one lead: pause, resume, remove from a campaign, finish, reactivate."""

    def __init__(self, records: Records, clock: Clock, actor: str = "operator") -> None:
        self.records = records
        self.clock = clock
        self.actor = actor
        self.audit = AuditTrail(records)

    def lead(self, tenant_id: str, email: str) -> Lead:
        try:
            address = canonical_email(email)
        except AddressError as exc:
            raise ValueError(str(exc)) from exc
        return self.records.get(Lead, tenant_id, lead_id_for(tenant_id, address))

    def campaigns_of(self, lead: Lead) -> list[Campaign]:
        """The campaigns that can hold the lead: those on its list."""
        return [c for c in self.records.all(Campaign, lead.tenant_id) if c.lead_list == lead.list_name]

    def pause(self, tenant_id: str, email: str, reason: str = "") -> LeadChange:
        lead = self.lead(tenant_id, email)
        if lead.status is not LeadStatus.ACTIVE:
            raise ValueError(f"{lead.email} is {lead.status.value}: only an active lead can be paused")
        paused = self._set(lead, LeadStatus.PAUSED, reason or "paused by operator")
        self._record(paused, "lead.pause", reason)
        return LeadChange(paused)

    def resume(self, tenant_id: str, email: str) -> LeadChange:
        lead = self.lead(tenant_id, email)
        if lead.status is not LeadStatus.PAUSED:
            raise ValueError(f"{lead.email} is {lead.status.value}, not paused")
        active = self._set(lead, LeadStatus.ACTIVE, "")
        change = self._go_on(active, reopen=PAUSED_LEAD)
        self._record(active, "lead.resume", "", reopened=change.reopened, timers=change.timers)
        return change

    def reactivate(self, lead: Lead, reason: str) -> LeadChange:
        """After its suppression was lifted: the lead is active again and its sequences go on."""
        if lead.status not in REACTIVATABLE:
            raise ValueError(f"{lead.email} is {lead.status.value}: lifting a suppression does not undo that")
        if self.records.suppression_for(lead.tenant_id, lead.email) is not None:
            raise ValueError(f"{lead.email} is still on another suppression list")
        active = self._set(lead, LeadStatus.ACTIVE, "")
        change = self._go_on(active, reopen=None)
        self._record(active, "lead.reactivate", reason, timers=change.timers)
        return change

    def remove(self, tenant_id: str, email: str, campaign_id: str | None, reason: str = "") -> LeadChange:
        """Out of one campaign (or every campaign of its list) for good; the lead itself stays."""
        lead = self.lead(tenant_id, email)
        campaigns = self.campaigns_of(lead)
        if campaign_id is not None:
            campaigns = [self.records.get(Campaign, tenant_id, campaign_id)]
        ids = tuple(c.id for c in campaigns if c.id not in lead.removed_from)
        if not ids:
            raise ValueError(f"{lead.email} is in no campaign to remove it from")
        for _ in range(3):
            try:
                lead = self.records.replace(
                    lead.model_copy(update={"removed_from": (*lead.removed_from, *ids)})
                )
                break
            except ConditionFailed:
                lead = self.lead(tenant_id, email)
        cancelled, timers = self._stop(lead, set(ids), REMOVED)
        self._record(lead, "lead.remove", reason, campaigns=list(ids), cancelled=cancelled)
        return LeadChange(lead, cancelled=cancelled, timers=timers, campaigns=ids)

    def finish(self, tenant_id: str, email: str, reason: str = "") -> LeadChange:
        """Done with this lead (a meeting booked, not a fit): every sequence ends, none starts again."""
        lead = self.lead(tenant_id, email)
        if lead.status not in (LeadStatus.ACTIVE, LeadStatus.PAUSED):
            raise ValueError(f"{lead.email} is {lead.status.value}: its sequences are over already")
        finished = self._set(lead, LeadStatus.FINISHED, reason or "finished by operator")
        cancelled, timers = self._stop(finished, {c.id for c in self.campaigns_of(finished)}, FINISHED)
        self._record(finished, "lead.finish", reason, cancelled=cancelled)
        return LeadChange(finished, cancelled=cancelled, timers=timers)

    # --- the mechanics ----------------------------------------------------------------------------------

    def _set(self, lead: Lead, status: LeadStatus, reason: str) -> Lead:
        for _ in range(3):
            try:
                return self.records.replace(
                    lead.model_copy(update={"status": status, "status_reason": reason})
                )
            except ConditionFailed:
                lead = self.records.get(Lead, lead.tenant_id, lead.id)
        raise ConditionFailed(f"T#{lead.tenant_id}", f"LEAD#{lead.id}")

    def _stop(self, lead: Lead, campaigns: set[str], reason: str) -> tuple[int, int]:
        now = self.clock.now()
        cancelled = 0
        for campaign_id in sorted(campaigns):
            for job in self.records.lead_campaign_jobs(lead.tenant_id, campaign_id, lead.id):
                if job.status in (JobStatus.PLANNED, JobStatus.QUEUED):  # `sending` finishes on its own
                    with contextlib.suppress(ConditionFailed):
                        self.records.save_job(job.moved(JobStatus.CANCELLED, now, reason))
                        cancelled += 1
        drops = [
            self.records.timer_delete(t)
            for t in _step_timers(self.records, lead.tenant_id)
            if t.lead_id == lead.id and t.campaign_id in campaigns
        ]
        _write(self.records, drops)
        return cancelled, len(drops)

    def _go_on(self, lead: Lead, reopen: str | None) -> LeadChange:
        """Rebuild the lead's step timers in its running campaigns from its jobs (its old ones go), and
        reopen the jobs that `reopen` (a reason) had cancelled."""
        now = self.clock.now()
        running = [
            c
            for c in self.campaigns_of(lead)
            if c.status is CampaignStatus.RUNNING and c.id not in lead.removed_from
        ]
        ids = {c.id for c in running}
        ops: list[Put | Delete] = [
            self.records.timer_delete(t)
            for t in _step_timers(self.records, lead.tenant_id)
            if t.lead_id == lead.id and t.campaign_id in ids
        ]
        reopened = 0
        written = 0
        for campaign in running:
            jobs = self.records.lead_campaign_jobs(lead.tenant_id, campaign.id, lead.id)
            live: list[MessageJob] = []
            for job in jobs:
                if reopen is not None and job.status is JobStatus.CANCELLED and job.status_reason == reopen:
                    wake = Timer(
                        tenant_id=lead.tenant_id,
                        at=now,
                        kind=TimerKind.WAKE,
                        job_id=job.job_id,
                        campaign_id=campaign.id,
                        lead_id=lead.id,
                        step=job.step,
                    )
                    with contextlib.suppress(ConditionFailed):
                        self.records.save_job(
                            job.moved(JobStatus.PLANNED, now, "lead resumed"), self.records.timer_put(wake)
                        )
                        reopened += 1
                        continue
                live.append(job)
            if any(j.status is JobStatus.PLANNED for j in live) or reopened:
                live = self.records.lead_campaign_jobs(lead.tenant_id, campaign.id, lead.id)
            timers = pending_timers(campaign, [lead], live, now)
            ops.extend(self.records.timer_put(t) for t in timers)
            written += len(timers)
        kept = {(op.partition, op.sort) for op in ops if isinstance(op, Put)}
        ops = [op for op in ops if isinstance(op, Put) or (op.partition, op.sort) not in kept]
        _write(self.records, ops)
        return LeadChange(lead, reopened=reopened, timers=written, campaigns=tuple(sorted(ids)))

    def _record(self, lead: Lead, action: str, reason: str, **details: Any) -> None:
        self.audit.record(lead.tenant_id, self.clock.now(), self.actor, action, lead.id, reason, **details)


def campaign_step_timers(records: Records, campaign: Campaign) -> list[Timer]:
    return [t for t in _step_timers(records, campaign.tenant_id) if t.campaign_id == campaign.id]


def stop_open_jobs(records: Records, jobs: Iterable[MessageJob], reason: str, now: datetime) -> int:
    """Cancel the planned and queued ones (a queue message left behind finds them cancelled)."""
    cancelled = 0
    for job in jobs:
        if job.status in (JobStatus.PLANNED, JobStatus.QUEUED):
            with contextlib.suppress(ConditionFailed):
                records.save_job(job.moved(JobStatus.CANCELLED, now, reason))
                cancelled += 1
    return cancelled


__all__ = [
    "ADVANCING",
    "OPEN_STATUSES",
    "CampaignCompletion",
    "LeadActions",
    "LeadChange",
    "NotFoundError",
    "campaign_step_timers",
    "stop_open_jobs",
    "write_ops",
]


def write_ops(records: Records, ops: Sequence[Put | Delete]) -> None:
    _write(records, ops)
