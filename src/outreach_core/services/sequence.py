"""Where each lead stands in a campaign's sequence, expressed as step timers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from outreach_core.domain.ids import job_id_for
from outreach_core.domain.jobs import JobStatus, MessageJob
from outreach_core.domain.models import Campaign, Lead, LeadStatus
from outreach_core.ports import ConditionFailed
from outreach_core.records import Records, Timer, TimerKind

# How long a due step waits for its direction's room at most before the planner reads it again (an
# identity added, resumed or changed, a quota or policy changed makes it due at once: pull_waiting_steps).
ROOM_WAIT_AT_MOST = timedelta(hours=72)
# Statuses after which the sequence moves on to the next step.
_ADVANCES = frozenset({JobStatus.SENT, JobStatus.DELIVERED})


def step_timer(campaign: Campaign, lead_id: str, step: int, at: datetime) -> Timer:
    return Timer(
        tenant_id=campaign.tenant_id,
        at=at,
        kind=TimerKind.STEP,
        job_id=job_id_for(campaign.id, lead_id, step),
        campaign_id=campaign.id,
        lead_id=lead_id,
        step=step,
    )


def next_step_timer(campaign: Campaign, job: MessageJob, sent_at: datetime) -> Timer | None:
    """After step k went out: step k+1 becomes due its delay later (None when the sequence ends)."""
    following = job.step + 1
    if not campaign.has_step(following):
        return None
    return step_timer(campaign, job.lead_id, following, sent_at + campaign.step(following).delay)


def pending_timers(
    campaign: Campaign, leads: Iterable[Lead], jobs: Iterable[MessageJob], now: datetime
) -> list[Timer]:
    """Step timers for every active lead of the campaign's list, derived from its jobs (on resume)."""
    latest: dict[str, MessageJob] = {}
    for job in jobs:
        if job.lead_id not in latest or job.step > latest[job.lead_id].step:
            latest[job.lead_id] = job
    timers: list[Timer] = []
    for lead in leads:
        if (
            lead.status is not LeadStatus.ACTIVE
            or lead.list_name != campaign.lead_list
            or campaign.id in lead.removed_from
        ):
            continue
        last = latest.get(lead.id)
        if last is None:
            timers.append(step_timer(campaign, lead.id, 1, now))
        elif last.status in _ADVANCES and last.sent_at is not None:
            timer = next_step_timer(campaign, last, last.sent_at)
            if timer is not None:
                timers.append(timer.model_copy(update={"at": max(timer.at, now)}))
    return timers


def postpone_steps(records: Records, tenant_id: str, lead_id: str, until: datetime) -> int:
    """Move the lead's step timers due before `until` to `until` (steps not yet planned)."""
    moved = 0
    after: str | None = None
    while page := records.timers_due(tenant_id, TimerKind.STEP, until, after=after, limit=200):
        for timer in page:
            after = timer.sort
            if timer.lead_id != lead_id or timer.at >= until:
                continue
            try:
                records.store.write(
                    records.timer_delete(timer), records.timer_put(timer.model_copy(update={"at": until}))
                )
            except ConditionFailed:
                continue
            moved += 1
    return moved


def pull_waiting_steps(records: Records, tenant_id: str, now: datetime) -> int:
    """The tenant's steps refiled to wait for room (`Timer.for_room`) come due now: what their room
    depends on changed (an identity added, resumed or edited, the tenant's quotas or policy). Steps
    waiting for a sending window or a sequence delay stay where they are. Returns how many moved."""
    moved = 0
    after: str | None = None
    until = now + ROOM_WAIT_AT_MOST + timedelta(days=1)  # no room wait is filed later than this
    while page := records.timers_due(tenant_id, TimerKind.STEP, until, after=after, limit=200):
        for timer in page:
            after = timer.sort
            if not timer.for_room or timer.at <= now:
                continue
            with contextlib.suppress(ConditionFailed):  # moved meanwhile (planned, refiled): leave it
                records.store.write(
                    records.timer_delete(timer),
                    records.timer_put(timer.model_copy(update={"at": now, "for_room": False})),
                )
                moved += 1
    return moved
