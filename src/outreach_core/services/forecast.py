"""`outreach campaign forecast`: what is still to send in a tenant's campaigns, laid out under its
limits (policies.forecast), from the store's jobs, step timers, warm-up ramps and holiday table."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from outreach_core.domain.ids import job_id_for
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import (
    Campaign,
    CampaignStatus,
    IdentityStatus,
    Lead,
    LeadStatus,
    SenderIdentity,
    Tenant,
)
from outreach_core.domain.window import zone
from outreach_core.policies import warmup
from outreach_core.policies.forecast import Forecast, IdentityLimit, Pending, TenantLimits, forecast
from outreach_core.policies.limits import Limit, micros, window_used
from outreach_core.ports import Clock
from outreach_core.records import Records, Timer, TimerKind
from outreach_core.services.jobs import day_key
from outreach_core.services.lifecycle import ADVANCING, OPEN_STATUSES
from outreach_core.services.limiter import SendLimiter


@dataclass(frozen=True)
class CampaignForecast:
    tenant: Tenant
    campaign: Campaign
    plan: Forecast
    today: date
    remaining: int  # this campaign's messages still to send
    paused_leads: int  # not laid out: nothing goes to them until they are resumed
    holidays: list[tuple[date, str]]  # closed days within the forecast, for every lead
    calendar_ends: date | None  # the holiday table's last covered day, when the forecast runs past it

    @property
    def finish(self) -> date | None:
        return self.plan.finish(self.campaign.id)


def _cap_of(caps: list[int]) -> Callable[[int], int]:
    return lambda offset: caps[min(offset, len(caps) - 1)]


def _days(delta: timedelta) -> int:
    return max(0, math.ceil(delta.total_seconds() / 86400))


class ForecastService:
    def __init__(self, records: Records, clock: Clock, limiter: SendLimiter) -> None:
        self.records = records
        self.clock = clock
        self.limiter = limiter

    def campaign(self, tenant_id: str, campaign_id: str) -> CampaignForecast:
        """The campaign's completion date, laid out together with the tenant's other running campaigns
        (they share its quotas and identities). A draft or paused one is forecast as if started now."""
        tenant = self.records.tenant(tenant_id)
        target = self.records.get(Campaign, tenant_id, campaign_id)
        now = self.clock.now()
        tz = zone(tenant.window.timezone)
        today = now.astimezone(tz).date()
        campaigns = [
            c
            for c in self.records.all(Campaign, tenant_id)
            if c.status is CampaignStatus.RUNNING or c.id == target.id
        ]
        if target.status in (CampaignStatus.COMPLETED, CampaignStatus.STOPPED):
            campaigns = [c for c in campaigns if c.id != target.id]
        leads = self.records.all(Lead, tenant_id)
        timers = self._step_timers(tenant_id)
        pending: list[Pending] = []
        paused = 0
        for campaign in campaigns:
            jobs = self._latest_jobs(self.records.jobs(tenant_id, campaign.id))
            for lead in leads:
                if lead.list_name != campaign.lead_list or campaign.id in lead.removed_from:
                    continue
                if lead.status is LeadStatus.PAUSED:
                    paused += campaign.id == target.id
                    continue
                if lead.status is not LeadStatus.ACTIVE:
                    continue
                item = self._next(campaign, lead, jobs.get(lead.id), timers, today, tz)
                if item is not None:
                    pending.append(item)
        plan = forecast(
            pending,
            {c.id: c.direction_id for c in campaigns},
            self._identities(tenant, now),
            self._tenant_limits(tenant, now),
            today,
        )
        holidays = [(d.day, d.closed) for d in plan.days if d.closed and d.closed != "not a sending day"]
        last = plan.days[-1].day if plan.days else today
        ends = None
        if tenant.holidays.years and not tenant.holidays.covers(last):
            ends = date(max(tenant.holidays.years), 12, 31)
        return CampaignForecast(
            tenant=tenant,
            campaign=target,
            plan=plan,
            today=today,
            remaining=sum(1 + len(p.delays) for p in pending if p.campaign == target.id),
            paused_leads=paused,
            holidays=holidays,
            calendar_ends=ends,
        )

    # --- what is left --------------------------------------------------------------------------------

    def _step_timers(self, tenant_id: str) -> dict[str, Timer]:
        items = self.records.store.query(f"T#{tenant_id}", f"TIMER#{TimerKind.STEP.value}#")
        return {t.job_id: t for t in (Timer.model_validate(i.data) for i in items)}

    @staticmethod
    def _latest_jobs(jobs: list[MessageJob]) -> dict[str, MessageJob]:
        latest: dict[str, MessageJob] = {}
        for job in jobs:
            if job.lead_id not in latest or job.step > latest[job.lead_id].step:
                latest[job.lead_id] = job
        return latest

    def _next(
        self,
        campaign: Campaign,
        lead: Lead,
        last: MessageJob | None,
        timers: dict[str, Timer],
        today: date,
        tz: ZoneInfo,
    ) -> Pending | None:
        def local(at: datetime) -> date:
            return at.astimezone(tz).date()

        def later(step: int) -> tuple[int, ...]:
            return tuple(_days(s.delay) for s in campaign.steps[step:])

        if last is None:
            timer = timers.get(job_id_for(campaign.id, lead.id, 1))
            ready = local(timer.at) if timer else today
            return Pending(campaign.id, lead.id, 1, ready, later(1), lead.country)
        if last.status in OPEN_STATUSES:
            return Pending(
                campaign.id, lead.id, last.step, local(last.scheduled_at), later(last.step), lead.country
            )
        if last.status in ADVANCING and campaign.has_step(last.step + 1) and last.sent_at is not None:
            timer = timers.get(job_id_for(campaign.id, lead.id, last.step + 1))
            ready = local(timer.at) if timer else local(last.sent_at + campaign.step(last.step + 1).delay)
            return Pending(campaign.id, lead.id, last.step + 1, ready, later(last.step + 1), lead.country)
        return None

    # --- the limits -----------------------------------------------------------------------------------

    def _identities(self, tenant: Tenant, now: datetime) -> list[IdentityLimit]:
        policy = self.limiter.policy_for(tenant.id)
        out: list[IdentityLimit] = []
        for identity in self.records.all(SenderIdentity, tenant.id):
            if identity.status is not IdentityStatus.ACTIVE:
                continue
            state = self.limiter.identity_state(tenant.id, identity.id)
            caps = warmup.schedule(
                state.get("ramp", {}), now.date(), policy.warmup, identity.daily_cap, days=400
            )
            used = window_used(
                state.get("day"), micros(now), Limit(count=1, period_s=86400), policy.window_buckets
            )
            out.append(
                IdentityLimit(
                    identity=identity.id,
                    directions=frozenset(identity.directions),
                    caps=_cap_of(caps),
                    per_hour=policy.identity.per_hour,
                    per_minute=policy.identity.per_minute,
                    used_today=int(used),
                )
            )
        return out

    def _tenant_limits(self, tenant: Tenant, now: datetime) -> TenantLimits:
        window = tenant.window
        local = now.astimezone(zone(window.timezone))
        opens = datetime.combine(local.date(), window.start, tzinfo=local.tzinfo)
        closes = opens + timedelta(hours=window.hours_per_day())
        left = max(0.0, (closes - max(local, opens)).total_seconds() / 3600)
        quota, _ = self.records.state(tenant.id, f"QUOTA#{day_key(now)}")
        calendar = tenant.holidays
        return TenantLimits(
            daily=tenant.quotas.daily,
            hourly=tenant.quotas.hourly,
            window_days=frozenset(window.days),
            hours=window.hours_per_day(),
            hours_left_today=left,
            used_today=int(quota.get("total", 0)),
            closed=calendar.holiday,
        )
