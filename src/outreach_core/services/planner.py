"""The planner: turns due step timers into claimed, slotted, enqueued jobs. Runs on a schedule.

Per tenant and tick it reads the timers due within the horizon and
  - step:  checks campaign, lead and suppression (and, before step 1, list hygiene: a domain that
           died since the import, a do-not-contact domain added since), moves the time into the
           lead's sending window,
           admits it under the tenant's quotas and its identities' warm-up room, then under the
           tenant's fair share of the account's rate (deficit round-robin across tenants), places it
           in a slot with jitter, claims the job by a conditional write (the idempotency key: a
           second claim of the same step fails) and enqueues;
  - wake:  enqueues a claimed job that is not in the queue (a crash between claim and enqueue, a job
           parked for longer than the queue can delay, a job reopened on resume);
  - lease: a sender's lease on a `sending` job expired: the job becomes `uncertain` (never resent).
"""

from __future__ import annotations

import contextlib
import heapq
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict

from outreach_core.domain.holidays import ClosedDays
from outreach_core.domain.ids import idempotency_key, stable_fraction
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
from outreach_core.domain.window import SendWindow
from outreach_core.policies.admission import TokenBucket
from outreach_core.policies.config import DAY, HOUR
from outreach_core.policies.fairshare import drr_allocate
from outreach_core.policies.hygiene import HygienePolicy
from outreach_core.policies.limits import (
    Limit,
    from_micros,
    interval_us,
    micros,
    slot_interval_us,
    window_used,
)
from outreach_core.policies.providers import Provider
from outreach_core.ports import Clock, ConditionFailed, Delete, JobQueue, Key, Put, QueueMessage
from outreach_core.records import GLOBAL, Records, Timer, TimerKind, stamp
from outreach_core.services.guard import ReputationGuard
from outreach_core.services.hygiene import ListHygiene
from outreach_core.services.jobs import JobMessage, day_key
from outreach_core.services.lifecycle import ADVANCING, OPEN_STATUSES, CampaignCompletion
from outreach_core.services.limiter import ACCOUNT, SLOTS, SendLimiter, ident_sort, prov_sort
from outreach_core.services.sequence import ROOM_WAIT_AT_MOST

log = structlog.get_logger(__name__)

LEAD_PAUSED_RECHECK = timedelta(hours=6)  # a paused lead's due step is looked at again this much later
OVERLAP_RECHECK = timedelta(hours=6)  # step 1 of a lead still in another sequence, likewise
# A direction whose identities have used their rolling day: its due steps wait until it has room again,
# but are looked at again after this at the latest (an identity added or resumed, a cap raised).
ROOM_RECHECK = ROOM_WAIT_AT_MOST
NO_IDENTITY_RECHECK = timedelta(hours=1)  # no active identity serves the direction: look again soon
_PAGE = 100  # due timers read per query
_WAKE_PAGES = 10  # wake timers handled per tenant and tick (the rest stay due for the next one)
_WRITE_CHUNK = 300  # jobs claimed and enqueued per round of batched writes
_DAY_US = int(DAY * 1_000_000)
_PROVIDER_MEMO = 200_000  # leads whose provider the planner remembers (a warm process: bounded)


class PlannerConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    horizon: timedelta = timedelta(minutes=5)  # plan what is due within this; also the slotting span
    # A tick plans at most this many jobs per tenant, whatever the limits allow: its time (one Lambda
    # invocation) and memory stay bounded; the rest is due at the next tick.
    max_jobs_per_tick: int = 5_000


@dataclass
class PlanReport:
    planned: int = 0
    enqueued: int = 0
    stopped: int = 0  # sequences that ended at a lead that replied, bounced, unsubscribed or is suppressed
    skipped: int = 0  # leads list hygiene skipped just before their first step (dead domain, DNC, ...)
    uncertain: int = 0
    deferred: int = 0  # due, but over the tenant's quotas this tick (or waiting for another sequence)
    completed: int = 0  # campaigns found over this tick (every enrolled lead's sequence ended)
    next_due: datetime | None = None
    per_tenant: dict[str, int] = field(default_factory=dict)


class _RoomMoments:
    """The moments a booked-up direction's room grows by one, earliest first: the j-th is the first
    moment its identities' rolling days have room for j + 1 sends in all. Each identity's moments of
    room for 1, 2, ... sends (`moment(identity, need)`, later for more) are merged lazily, so the j-th
    step refiled in a tick waits for the j-th send's room, not every one for the first."""

    def __init__(
        self,
        moment: Callable[[SenderIdentity, int], datetime | None],
        identities: list[SenderIdentity],
    ) -> None:
        self._moment = moment
        self.last: datetime | None = None  # the latest moment popped
        self._heap: list[tuple[datetime, int, int, SenderIdentity]] = []
        for index, identity in enumerate(identities):
            first = moment(identity, 1)
            if first is not None:
                self._heap.append((first, index, 1, identity))
        heapq.heapify(self._heap)

    def peek(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def pop(self) -> datetime | None:
        if not self._heap:
            return None
        at, index, need, identity = heapq.heappop(self._heap)
        self.last = at
        following = self._moment(identity, need + 1)
        if following is not None:
            heapq.heappush(self._heap, (following, index, need + 1, identity))
        return at


@dataclass
class _Admission:
    bucket: TokenBucket
    bucket_version: int
    quota: dict[str, int]
    quota_version: int
    quota_sort: str
    daily: int
    capacity: dict[str, int]  # this tick: warm-up room, at most the identities' hourly rate per horizon
    day_room: dict[str, int]  # today: warm-up room left
    day_caps: dict[str, int]  # today: the warm-up caps of the direction's identities, summed
    # Per receiving provider: what the identities' windows there still allow, in all and (keyed by
    # direction and provider) for the identities serving each direction.
    provider_room: dict[str, int]
    next_slot_us: int  # the tenant's last booked slot: with `slot_us`, how many it may offer per tick
    slot_us: int
    slots: int  # slots left within this horizon
    # This tick's answers to "when may it have room again" (None: next tick, the due steps stay):
    room_at: dict[str, datetime | None] = field(default_factory=dict)  # per booked-up direction
    direction_provider_room: dict[tuple[str, str], int] = field(default_factory=dict)
    provider_start: dict[tuple[str, str], int] = field(default_factory=dict)  # before this tick's takes
    provider_room_at: dict[tuple[str, str], datetime | None] = field(default_factory=dict)  # full ones
    identity_provider_room: dict[str, dict[str, int]] = field(default_factory=dict)  # at the tick's start
    room_moments: dict[str, _RoomMoments] = field(default_factory=dict)  # per booked-up direction

    @property
    def exhausted(self) -> bool:
        return (
            self.bucket.tokens < 1 - 1e-9
            or self.slots <= 0
            or self.quota.get("total", 0) >= self.daily
            or not any(c > 0 for c in self.capacity.values())
        )

    @property
    def room(self) -> int:
        """How many more jobs this tick may admit at most, whatever their direction and provider."""
        if self.exhausted:
            return 0
        left = min(int(self.bucket.tokens + 1e-9), self.slots, self.daily - self.quota.get("total", 0))
        return max(0, min(left, sum(max(0, c) for c in self.capacity.values())))

    @property
    def booked_up(self) -> bool:
        """Every direction's identities have used their rolling day: reading on refiles the due steps
        to when there is room again (unless every direction used it in this very tick: then they stay
        due for the next one, and there is nothing to read on for)."""
        return (
            bool(self.day_room)
            and all(room <= 0 for room in self.day_room.values())
            and not all(d in self.room_at and self.room_at[d] is None for d in self.day_room)
        )

    def provider_full(self, direction: str, provider: str) -> bool:
        """No room at this provider this tick: for the tenant's identities, or for the direction's."""
        return (
            self.provider_room.get(provider, 1) <= 0
            or self.direction_provider_room.get((direction, provider), 1) <= 0
        )

    def take(self, direction: str, provider: str) -> bool:
        """Admit one job of this direction, if its identities have room, at its provider too."""
        if self.capacity.get(direction, 0) <= 0 or self.exhausted or self.provider_full(direction, provider):
            return False
        if provider in self.provider_room:
            self.provider_room[provider] -= 1
        if (direction, provider) in self.direction_provider_room:
            self.direction_provider_room[(direction, provider)] -= 1
        self.bucket.take()
        self.slots -= 1
        self.capacity[direction] -= 1
        self.day_room[direction] -= 1
        self.quota["total"] = self.quota.get("total", 0) + 1
        self.quota[f"dir:{direction}"] = self.quota.get(f"dir:{direction}", 0) + 1
        return True

    def give_back(self, direction: str, provider: str) -> None:
        """Undo a `take` whose job the account's fair share did not admit this tick."""
        if provider in self.provider_room:
            self.provider_room[provider] += 1
        if (direction, provider) in self.direction_provider_room:
            self.direction_provider_room[(direction, provider)] += 1
        self.bucket.tokens = min(self.bucket.burst, self.bucket.tokens + 1)
        self.slots += 1
        self.capacity[direction] = self.capacity.get(direction, 0) + 1
        self.day_room[direction] = self.day_room.get(direction, 0) + 1
        self.quota["total"] -= 1
        self.quota[f"dir:{direction}"] -= 1

    def state_puts(self, records: Records, tenant_id: str, now: datetime) -> list[Put]:
        expires = int((now + timedelta(days=3)).timestamp())
        doc = {
            **self.bucket.dump(),
            "next_slot": self.next_slot_us,
        }
        return [
            records.state_put(tenant_id, self.quota_sort, self.quota, self.quota_version, ttl=expires),
            records.state_put(tenant_id, "ADMIT", doc, self.bucket_version),
        ]


@dataclass
class _Candidate:
    timer: Timer
    at: datetime
    campaign: Campaign
    provider: str
    window: SendWindow  # the lead's, in its time zone
    closed: ClosedDays | None  # the lead's holidays


@dataclass
class _TenantPlan:
    tenant: Tenant
    admission: _Admission
    candidates: list[_Candidate]


@dataclass
class _Tenancy:
    """What one tenant's planning reads once per tick."""

    campaigns: dict[str, Campaign]
    identities: list[SenderIdentity]  # the active ones


class PlannerService:
    def __init__(
        self,
        records: Records,
        queue: JobQueue,
        clock: Clock,
        config: PlannerConfig | None = None,
        limiter: SendLimiter | None = None,
        guard: ReputationGuard | None = None,
        hygiene: ListHygiene | None = None,
    ) -> None:
        self.records = records
        self.queue = queue
        self.clock = clock
        self.hygiene = hygiene
        self.config = config or PlannerConfig()
        self.limiter = limiter or (guard.limiter if guard else SendLimiter(records))
        self.guard = guard
        self.completion = CampaignCompletion(records, clock)
        self._starting: set[tuple[str, str]] = set()  # leads whose first step of a sequence goes this tick
        self._campaigns: dict[str, Campaign] = {}
        self._lead_providers: dict[tuple[str, str], str] = {}  # (tenant, lead) -> receiving provider
        if self.config.horizon.total_seconds() > queue.max_delay_seconds:
            raise ValueError("the planning horizon cannot exceed the queue's maximum delay")

    def tick(self) -> PlanReport:
        now = self.clock.now()
        report = PlanReport()
        self._starting.clear()  # "starting in this tick": a warm process runs many ticks
        plans: list[_TenantPlan] = []
        tenants = self.records.tenants()
        for tenant in tenants:
            if self.guard is not None:
                self.guard.resume_due(tenant.id, now)
            for timer in self.records.timers_due(tenant.id, TimerKind.LEASE, now):
                self._expire_lease(timer, now, report)
            self._wake_due(tenant, now, report)
            plan = self._plan_steps(tenant, now, report)
            if plan is not None:
                plans.append(plan)
        if plans:
            slots = self._account_slots(plans, now)
            for plan in plans:
                self._commit(plan, slots.get(plan.tenant.id, []), now, report)
        for tenant in tenants:
            report.completed += self.completion.check(tenant.id, now)
            upcoming = self.records.next_timer(tenant.id)
            if upcoming is not None and (report.next_due is None or upcoming.at < report.next_due):
                report.next_due = max(upcoming.at, now)
        return report

    # --- per tenant -------------------------------------------------------------------------------

    def _plan_steps(self, tenant: Tenant, now: datetime, report: PlanReport) -> _TenantPlan | None:
        """Read due step timers, oldest first, only as far as the tenant's own limits reach this tick.

        One read-ahead scope for the tenant: its policy and limiter documents are read once, and each
        page of due timers costs a round trip for its leads and one for their suppression entries."""
        until = now + self.config.horizon
        if not self.records.timers_due(tenant.id, TimerKind.STEP, until, limit=1):
            return None
        with self.records.read_ahead() as reads:
            if self._no_slot(tenant, now):
                return None
            tenancy = _Tenancy(
                {c.id: c for c in self.records.all(Campaign, tenant.id)},
                [i for i in self.records.all(SenderIdentity, tenant.id) if i.status is IdentityStatus.ACTIVE],
            )
            self._campaigns = tenancy.campaigns  # for the one-sequence-per-lead check, read once
            admission = self._admission(tenant, tenancy, now)
            if admission.exhausted and not admission.booked_up:
                return None
            hygiene = self.hygiene.policy(tenant.id) if self.hygiene is not None else None
            admitted: list[_Candidate] = []
            after: str | None = None
            # Due timers the limits cannot take this tick stay due; read only so many of them.
            cap = self.config.max_jobs_per_tick
            budget = 50 + 4 * min(cap, sum(max(0, c) for c in admission.capacity.values()))
            while (not admission.exhausted or admission.booked_up) and budget > 0 and len(admitted) < cap:
                # A page's leads are read ahead: read about what this tick can still take, not always 100
                # (when refiling a booked-up tenant's steps, whole pages).
                size = _PAGE if admission.booked_up else 10 + 2 * admission.room
                page = self.records.timers_due(
                    tenant.id, TimerKind.STEP, until, after=after, limit=min(_PAGE, budget, size)
                )
                if not page:
                    break
                kept = self._read_page(tenant, [t for t in page if not self._held(tenancy, admission, t)])
                writes: list[list[Put | Delete]] = []
                for timer in page:
                    after = timer.sort
                    budget -= 1
                    if budget <= 0:
                        break
                    if self._held(tenancy, admission, timer):
                        continue  # what it needs is used up for this tick: due next tick, its lead unread
                    campaign = tenancy.campaigns.get(timer.campaign_id)
                    candidate = self._due_step(tenant, timer, campaign, now, until, report, writes, hygiene)
                    if candidate is None:
                        continue
                    if not self._admit(tenant, tenancy, admission, candidate, now, report, writes):
                        continue
                    admitted.append(candidate)
                    if (admission.exhausted and not admission.booked_up) or len(admitted) >= cap:
                        break
                self.records.store.write_many([ops for ops in writes if ops])
                reads.forget(kept)  # the page's leads and suppression entries: done with them
        return _TenantPlan(tenant, admission, admitted) if admitted else None

    def _admit(
        self,
        tenant: Tenant,
        tenancy: _Tenancy,
        admission: _Admission,
        candidate: _Candidate,
        now: datetime,
        report: PlanReport,
        writes: list[list[Put | Delete]],
    ) -> bool:
        """Take a due step under this tick's limits; refused, its timer waits for room (or stays due)."""
        self._remember_provider(tenant.id, candidate.timer.lead_id, candidate.provider)
        self._provider_bucket(
            tenant, tenancy, admission, candidate.campaign.direction_id, candidate.provider, now
        )
        if admission.take(candidate.campaign.direction_id, candidate.provider):
            return True
        wait = self._wait(tenant, tenancy, admission, candidate, now)
        if wait is not None:  # else room in this tick's horizon was taken: it stays due
            at = candidate.window.next_open(wait, candidate.closed)
            writes.append(self._refile(candidate.timer, at, for_room=True))
            report.deferred += 1
        return False

    def _held(self, tenancy: _Tenancy, admission: _Admission, timer: Timer) -> bool:
        """A due step this tick cannot admit and would not refile, known without reading its lead:
        its direction's room (or its lead's provider's, once the planner has seen the lead) is used up
        by this tick's own admissions or pacing. It stays due; the next tick reads it."""
        campaign = tenancy.campaigns.get(timer.campaign_id)
        if campaign is None or campaign.status is not CampaignStatus.RUNNING:
            return False  # its timer is dropped: read it
        direction = campaign.direction_id
        if admission.day_room.get(direction, 0) <= 0:
            return direction in admission.room_at and admission.room_at[direction] is None
        if admission.capacity.get(direction, 0) <= 0:
            return True
        provider = self._lead_providers.get((timer.tenant_id, timer.lead_id))
        if provider is None or not admission.provider_full(direction, provider):
            return False
        key = (direction, provider)
        if admission.provider_start.get(key, 1) > 0:
            return True  # this tick's share at the provider is taken
        return key in admission.provider_room_at and admission.provider_room_at[key] is None

    def _remember_provider(self, tenant_id: str, lead_id: str, provider: str) -> None:
        """A lead's receiving provider, for `_held`: a lead id is derived from its address, so it is
        the same as long as the provider directory's answer (memoised for the process) is."""
        if len(self._lead_providers) >= _PROVIDER_MEMO:
            self._lead_providers.clear()
        self._lead_providers[(tenant_id, lead_id)] = provider

    def _read_page(self, tenant: Tenant, page: list[Timer]) -> list[Key]:
        """Read a page's leads in one round trip, then their suppression entries (tenant and global)
        and do-not-contact domains in another. Returns the keys held, to let go of afterwards."""
        leads = [self.records.entity_key(Lead, tenant.id, t.lead_id) for t in page]
        self.records.prefetch(leads)
        found = self.records.store.get_many(leads)
        keys: list[Key] = []
        for item in found.values():
            email = self.records.entity(Lead, item).email  # built once: the step's own read finds it kept
            keys += self.records.suppression_keys(tenant.id, email)
            if self.hygiene is not None:
                keys += self.records.domain_block_keys(tenant.id, email.rsplit("@", 1)[-1])
        self.records.prefetch(keys)
        return leads + keys

    def _account_slots(self, plans: list[_TenantPlan], now: datetime) -> dict[str, list[int]]:
        """The account's send slots within the horizon, split among the tenants that have work by weight
        (deficit round-robin; an idle tenant's share goes to the others) and interleaved, so each
        tenant's sends are spread evenly over the slots it won.

        Slots are one account interval (1 / MaxSendRate) apart on a chain kept in the store, so the
        sender's exact per-second window admits every one of them on time: with a backlog, the account
        rate is used to the full and nobody retries. With spare capacity, slots spread over the
        horizon with a little jitter (never closer than the interval)."""
        for _ in range(5):  # senders append refused sends to the same chain: re-read and book again
            with contextlib.suppress(ConditionFailed):
                return self._book_slots(plans, now)
        log.warning("planner.slots_contended")  # leave this tick's work to the next
        return {}

    def _book_slots(self, plans: list[_TenantPlan], now: datetime) -> dict[str, list[int]]:
        account = self.limiter.policy.account
        doc, version = self._global(SLOTS)
        interval = slot_interval_us(account.rate)
        start = max(int(doc.get("next_slot", 0)), micros(now))
        if interval >= 1_000_000:
            start = -(-start // 1_000_000) * 1_000_000
        end = micros(now + self.config.horizon)
        sent_day = window_used(
            self._global(ACCOUNT)[0].get("day"),
            micros(now),
            Limit(count=1, period_s=DAY),
            self.limiter.policy.window_buckets,
        )
        capacity = min(max(0, -(-(end - start) // interval)), max(0, account.max_24h_send - sent_day))
        demands = {p.tenant.id: len(p.candidates) for p in plans}
        weights = {p.tenant.id: p.tenant.weight for p in plans}
        shares, deficits, last = drr_allocate(
            capacity, demands, weights, doc.get("deficits", {}), doc.get("last", "")
        )
        total = sum(shares.values())
        # With room to spare, sends keep the tenants' own pace (3600 / hourly apart) instead of going
        # out back to back; never closer than the account's interval.
        pace = min((p.admission.slot_us for p in plans if shares.get(p.tenant.id)), default=interval)
        step = max(interval, min((end - start) // total, pace)) if total else interval
        slots: dict[str, list[int]] = {t: [] for t in shares}
        for index, tenant in enumerate(interleave(shares, doc.get("last", ""))):
            base = start + index * step
            jitter = int(min(step - interval, step // 10) * stable_fraction(tenant, str(base), "slot"))
            slots[tenant].append(base + jitter)
        new = {"next_slot": start + total * step, "deficits": deficits, "last": last}
        self.records.store.write(Put(partition=GLOBAL, sort=SLOTS, data=new, expected_version=version))
        return slots

    def _global(self, sort: str) -> tuple[dict[str, Any], int]:
        item = self.records.store.get(GLOBAL, sort)
        return (dict(item.data), item.version) if item else ({}, 0)

    def _commit(self, plan: _TenantPlan, slots_us: list[int], now: datetime, report: PlanReport) -> None:
        tenant, admission = plan.tenant, plan.admission
        admitted, held = plan.candidates[: len(slots_us)], plan.candidates[len(slots_us) :]
        for candidate in held:  # due, but not this tick: its timer stays and comes round again
            admission.give_back(candidate.campaign.direction_id, candidate.provider)
        report.deferred += len(held)
        if not admitted:
            return
        slots = [
            from_micros(max(slot, micros(candidate.at)))
            for candidate, slot in zip(admitted, slots_us, strict=True)
        ]
        admission.next_slot_us = micros(slots[-1])
        try:
            self.records.store.write(*admission.state_puts(self.records, tenant.id, now))
        except ConditionFailed:  # another planner ran at the same time: leave this tick's work to the next
            log.warning("planner.concurrent_tick", tenant_id=tenant.id)
            return
        pairs = list(zip(admitted, slots, strict=True))
        for start in range(0, len(pairs), _WRITE_CHUNK):
            self._claim(tenant, pairs[start : start + _WRITE_CHUNK], now, report)
        report.per_tenant[tenant.id] = report.per_tenant.get(tenant.id, 0) + len(admitted)

    def _due_step(
        self,
        tenant: Tenant,
        timer: Timer,
        campaign: Campaign | None,
        now: datetime,
        until: datetime,
        report: PlanReport,
        writes: list[list[Put | Delete]],
        hygiene: HygienePolicy | None,
    ) -> _Candidate | None:
        """A due step as a candidate, or None; the timer writes it makes go to `writes` (one batch)."""
        if (
            campaign is None
            or campaign.status is not CampaignStatus.RUNNING
            or not campaign.has_step(timer.step)
        ):
            writes.append([self.records.timer_delete(timer)])  # resume rebuilds a paused one's timers
            return None
        lead = self.records.find(Lead, tenant.id, timer.lead_id)
        if lead is not None and lead.status is LeadStatus.PAUSED:
            writes.append(self._refile(timer, now + LEAD_PAUSED_RECHECK))  # kept: not over for it
            return None
        if (
            lead is None
            or lead.status is not LeadStatus.ACTIVE
            or campaign.id in lead.removed_from
            or self.records.suppression_for(tenant.id, lead.email)
        ):
            writes.append([self.records.timer_delete(timer)])
            report.stopped += 1
            return None
        if timer.step == 1 and self.hygiene is not None and self._skipped(tenant, lead, hygiene):
            writes.append([self.records.timer_delete(timer)])
            report.skipped += 1
            return None
        if timer.step == 1 and tenant.overlap is not Overlap.PARALLEL:
            other = self._in_other_sequence(tenant, lead, campaign)
            if other is not None:
                writes.append(self._overlapping(tenant, timer, campaign, other, now, report))
                return None
            self._starting.add((tenant.id, lead.id))
        window = (campaign.step(timer.step).window or tenant.window).in_zone(lead.timezone)
        closed = tenant.holidays.closed_for(lead.country)
        at = window.next_open(max(timer.at, now), closed)
        if at > until:
            writes.append(self._refile(timer, at))
            return None
        provider = self.limiter.directory.provider(lead.domain).value
        return _Candidate(
            timer=timer, at=at, campaign=campaign, provider=provider, window=window, closed=closed
        )

    def _in_other_sequence(self, tenant: Tenant, lead: Lead, campaign: Campaign) -> str | None:
        """The other campaign whose sequence the lead is in (tenant policy: one at a time), or None.
        Only campaigns on the lead's own list can have enrolled it."""
        if (tenant.id, lead.id) in self._starting:
            return "another campaign (starting in this tick)"
        for other in self._campaigns.values():
            if (
                other.id == campaign.id
                or other.lead_list != lead.list_name
                or other.status not in (CampaignStatus.RUNNING, CampaignStatus.PAUSED)
                or other.id in lead.removed_from
            ):
                continue
            jobs = self.records.lead_campaign_jobs(tenant.id, other.id, lead.id)
            if not jobs:
                continue
            last = max(jobs, key=lambda j: j.step)
            if last.status in OPEN_STATUSES or (last.status in ADVANCING and other.has_step(last.step + 1)):
                return other.id
        return None

    def _overlapping(
        self, tenant: Tenant, timer: Timer, campaign: Campaign, other: str, now: datetime, report: PlanReport
    ) -> list[Put | Delete]:
        """Step 1 of a lead already in another sequence: it waits for that one to end, or is left out.
        Returns the writes (the batch of the page)."""
        if tenant.overlap is Overlap.WAIT:
            report.deferred += 1
            return self._refile(timer, now + OVERLAP_RECHECK)
        job = MessageJob(
            job_id=timer.job_id,
            tenant_id=tenant.id,
            campaign_id=campaign.id,
            lead_id=timer.lead_id,
            step=1,
            template_id=campaign.step(1).template_id,
            scheduled_at=now,
            idempotency_key=idempotency_key(tenant.id, campaign.id, timer.lead_id, 1),
            status=JobStatus.CANCELLED,
            status_reason=f"in the sequence of campaign {other} (tenant policy: skip)",
            updated_at=now,
        )
        report.stopped += 1
        return [self.records.job_op(job, expected_version=0), self.records.timer_delete(timer)]

    def _skipped(self, tenant: Tenant, lead: Lead, policy: HygienePolicy | None) -> bool:
        """List hygiene just before the first send: True when the lead is (now) skipped."""
        assert self.hygiene is not None
        verdict = self.hygiene.check(tenant.id, lead.email, policy)
        if verdict.ok:
            return False
        with contextlib.suppress(ConditionFailed):  # the lead moved (replied, erased): it is not sent either
            self.records.replace(self.hygiene.skip(lead, verdict))
        log.info("planner.lead_skipped", tenant_id=tenant.id, lead_id=lead.id, skip=verdict.skip)
        return True

    def _refile(self, timer: Timer, at: datetime, *, for_room: bool = False) -> list[Put | Delete]:
        """The writes that move a timer to a later time (none when that is where it already is, to the
        second, as it was filed); `for_room`: it waits for its direction's room."""
        moved = timer.model_copy(update={"at": at, "for_room": for_room})
        if moved.sort == timer.sort:
            return [] if moved.for_room == timer.for_room else [self.records.timer_put(moved)]
        return [self.records.timer_delete(timer), self.records.timer_put(moved)]

    def _admission(self, tenant: Tenant, tenancy: _Tenancy, now: datetime) -> _Admission:
        """How much this tick may admit: the hourly token bucket, the daily quota, identity capacity."""
        quota_sort = f"QUOTA#{day_key(now)}"
        self.records.prefetch(
            [
                self.records.state_key(tenant.id, quota_sort),
                *self.limiter.tenant_keys(tenant.id),
                *(self.records.state_key(tenant.id, ident_sort(i.id)) for i in tenancy.identities),
            ]
        )
        quota, quota_version = self.records.state(tenant.id, quota_sort)
        bucket_doc, bucket_version = self.records.state(tenant.id, "ADMIT")
        burst = max(1.0, tenant.quotas.hourly * self.config.horizon.total_seconds() / 3600)
        bucket = TokenBucket.restore(
            bucket_doc, rate_per_s=tenant.quotas.hourly / 3600.0, burst=burst, now=now
        )
        capacity: dict[str, int] = defaultdict(int)
        day_room: dict[str, int] = defaultdict(int)
        calendar_room: dict[str, int] = defaultdict(int)
        day_caps: dict[str, int] = {}
        directions = {c.direction_id for c in tenancy.campaigns.values()}
        policy = self.limiter.policy_for(tenant.id)
        for identity in tenancy.identities:
            if identity.status is IdentityStatus.ACTIVE:
                # What its rolling day still allows under today's warm-up cap (the sender's own
                # window), and no more than its minute and hour windows let out within the horizon.
                room = self.limiter.room(tenant.id, identity, now, policy)
                cap = int(self.limiter.ramp_state(tenant.id, identity, now)["cap"])
                tick = min(room, self.limiter.horizon_room(tenant.id, identity, now, self.config.horizon))
                for direction in directions:
                    if identity.serves(direction):
                        capacity[direction] += tick
                        day_room[direction] += room
                        calendar_room[direction] += cap
        for direction in directions:
            # Jobs admitted today but not sent yet are not in the identities' windows: today's
            # admissions bound the room too, so a tick never books what an earlier one already did.
            caps = calendar_room[direction]
            calendar_room[direction] -= int(quota.get(f"dir:{direction}", 0))
            day_room[direction] = min(day_room[direction], calendar_room[direction])
            day_caps[direction] = caps
            capacity[direction] = min(capacity[direction], day_room[direction])
        slot_us = interval_us(Limit(count=max(1, tenant.quotas.hourly), period_s=HOUR))
        next_slot = max(int(bucket_doc.get("next_slot", 0)), micros(now))
        horizon_end = micros(now + self.config.horizon)
        slots = max(0, -(-(horizon_end - next_slot) // slot_us))
        return _Admission(
            bucket,
            bucket_version,
            quota,
            quota_version,
            quota_sort,
            tenant.quotas.daily,
            capacity,
            day_room,
            day_caps,
            {},
            next_slot,
            slot_us,
            slots,
        )

    def _wait(
        self, tenant: Tenant, tenancy: _Tenancy, admission: _Admission, candidate: _Candidate, now: datetime
    ) -> datetime | None:
        """A due step the limits refused this tick: until when it waits (its timer refiled there, so
        it is not read again on every tick), or None when the room it lacks comes back by the next
        tick (it stays due). Asked once per direction, and per provider, each tick."""
        direction, provider = candidate.campaign.direction_id, candidate.provider
        if admission.day_room.get(direction, 0) <= 0:
            if direction not in admission.room_at:
                admission.room_at[direction] = self._direction_room_at(
                    tenant, tenancy, admission, direction, now
                )
            first = admission.room_at[direction]
            room = admission.room_moments.get(direction)
            if first is None or room is None:
                return first
            # This step's turn: the moment the direction has room for it too (past the moments known,
            # within four days, the last of them: it is read again there).
            nth = room.pop() or room.last
            if nth is None:
                return first
            return max(first, self._look_again([nth], now) or first)
        key = (direction, provider)
        if admission.provider_full(direction, provider) and admission.provider_start.get(key, 1) <= 0:
            # The direction's identities are out of room there (not by this tick's own bookings).
            if key not in admission.provider_room_at:
                policy = self.limiter.policy_for(tenant.id)
                moments = [
                    self.limiter.provider_room_at(tenant.id, i, Provider(provider), now, policy)
                    for i in tenancy.identities
                    if i.serves(direction)
                ]
                admission.provider_room_at[key] = self._look_again([m for m in moments if m], now)
            return admission.provider_room_at[key]
        return None  # this tick's pacing (its horizon's share, the tenant's rate): next tick has room

    def _direction_room_at(
        self, tenant: Tenant, tenancy: _Tenancy, admission: _Admission, direction: str, now: datetime
    ) -> datetime | None:
        """When a booked-up direction may have room again: the first moment one of its identities'
        rolling days has room under that day's warm-up cap (warmup.day_room_at); from the next UTC
        midnight when today's admissions have used today's caps."""
        start = now
        if admission.day_caps.get(direction, 0) - int(admission.quota.get(f"dir:{direction}", 0)) <= 0:
            start = from_micros((micros(now) // _DAY_US + 1) * _DAY_US)
        policy = self.limiter.policy_for(tenant.id)
        moments = _RoomMoments(
            lambda identity, need: self.limiter.room_at(tenant.id, identity, start, policy, need),
            [identity for identity in tenancy.identities if identity.serves(direction)],
        )
        admission.room_moments[direction] = moments
        first = moments.peek() or moments.last
        return self._look_again([first] if first is not None else [], now)

    def _look_again(self, moments: list[datetime], now: datetime) -> datetime | None:
        """The earliest of the moments the limits name, as a refile time: None when it is within this
        tick's horizon (this tick's own admissions are not in the windows yet: the next tick knows
        better), at most ROOM_RECHECK on (an identity added or resumed, a cap raised meanwhile)."""
        if not moments:
            return now + NO_IDENTITY_RECHECK
        first = min(moments)
        return None if first <= now + self.config.horizon else min(first, now + ROOM_RECHECK)

    def _no_slot(self, tenant: Tenant, now: datetime) -> bool:
        """Cheap early exit: this tick's slots or tokens are already spent (one read, not dozens)."""
        doc, _ = self.records.state(tenant.id, "ADMIT")
        if int(doc.get("next_slot", 0)) >= micros(now + self.config.horizon):
            return True
        burst = max(1.0, tenant.quotas.hourly * self.config.horizon.total_seconds() / 3600)
        bucket = TokenBucket.restore(doc, rate_per_s=tenant.quotas.hourly / 3600.0, burst=burst, now=now)
        return bucket.tokens < 1 - 1e-9

    def _provider_bucket(
        self,
        tenant: Tenant,
        tenancy: _Tenancy,
        admission: _Admission,
        direction: str,
        provider: str,
        now: datetime,
    ) -> None:
        """What the tenant may book toward one receiving provider: what its identities' rolling windows
        there still allow under their AIMD factors, 0 where paused (the sender's own limits), in all
        and for the identities that serve the direction (the sender's rotation picks among those)."""
        if (direction, provider) in admission.direction_provider_room:
            return
        if provider not in admission.provider_room:
            self.records.prefetch(
                [self.records.state_key(tenant.id, prov_sort(i.id, provider)) for i in tenancy.identities]
            )
            rooms = {
                i.id: self.limiter.provider_room(tenant.id, i, Provider(provider), now, self.config.horizon)
                for i in tenancy.identities
            }
            admission.provider_room[provider] = sum(rooms.values())
            admission.identity_provider_room[provider] = rooms
        rooms = admission.identity_provider_room[provider]
        room = sum(rooms[i.id] for i in tenancy.identities if i.serves(direction))
        admission.direction_provider_room[(direction, provider)] = room
        admission.provider_start[(direction, provider)] = room

    def _claim(
        self, tenant: Tenant, pairs: list[tuple[_Candidate, datetime]], now: datetime, report: PlanReport
    ) -> None:
        """Claim each job by a conditional put (the idempotency key: a second claim of the same step
        fails), its step timer swapped for a wake timer in the same write, in batched writes; then
        enqueue them. A crash in between leaves wake timers, which the next tick enqueues."""
        claims: list[tuple[MessageJob, Timer, Timer]] = []
        for candidate, slot in pairs:
            timer = candidate.timer
            step = candidate.campaign.step(timer.step)
            job = MessageJob(
                job_id=timer.job_id,
                tenant_id=tenant.id,
                campaign_id=timer.campaign_id,
                lead_id=timer.lead_id,
                step=timer.step,
                template_id=step.template_for(tenant.id, timer.campaign_id, timer.lead_id),
                scheduled_at=slot,
                idempotency_key=idempotency_key(tenant.id, timer.campaign_id, timer.lead_id, timer.step),
                updated_at=now,
            )
            claims.append((job, timer, timer.model_copy(update={"kind": TimerKind.WAKE, "at": now})))
        results = self.records.store.write_many(
            [
                [
                    self.records.job_op(job, expected_version=0),
                    self.records.timer_delete(timer),
                    self.records.timer_put(wake),
                ]
                for job, timer, wake in claims
            ]
        )
        taken = [claim for claim, failed in zip(claims, results, strict=True) if failed is not None]
        if taken:
            # The step was claimed before (the idempotency key is taken): never plan it twice.
            self.records.store.write_many([[self.records.timer_delete(timer)] for _, timer, _ in taken])
            for job, _, _ in taken:
                log.info("planner.already_claimed", tenant_id=tenant.id, job_id=job.job_id)
        claimed = [
            (job.model_copy(update={"version": 1}), wake)
            for (job, _, wake), failed in zip(claims, results, strict=True)
            if failed is None
        ]
        report.planned += len(claimed)
        self._enqueue(claimed, now, report)

    # --- wake and lease timers --------------------------------------------------------------------

    def _enqueue(self, jobs: list[tuple[MessageJob, Timer]], now: datetime, report: PlanReport) -> None:
        """Put claimed jobs on the queue (batched), then mark them queued and drop their wake timers."""
        if not jobs:
            return
        self.queue.send_many(
            [
                (
                    QueueMessage(
                        body=JobMessage(tenant_id=job.tenant_id, job_id=job.job_id).dump(),
                        group=job.tenant_id,
                    ),
                    min(
                        max(0, math.ceil((job.scheduled_at - now).total_seconds())),
                        self.queue.max_delay_seconds,
                    ),
                )
                for job, _ in jobs
            ]
        )
        # A ConditionFailed here: a sender already took the job from the queue; the message did its work.
        self.records.store.write_many(
            [
                [
                    self.records.job_op(job.moved(JobStatus.QUEUED, now), expected_version=job.version),
                    self.records.timer_delete(wake),
                ]
                for job, wake in jobs
            ]
        )
        report.enqueued += len(jobs)

    def _wake_due(self, tenant: Tenant, now: datetime, report: PlanReport) -> None:
        """Enqueue claimed jobs whose wake timers are due within the horizon, a page at a time (their
        jobs read in one round trip per page), at most so many pages per tick."""
        after: str | None = None
        until = now + self.config.horizon
        for _ in range(_WAKE_PAGES):
            page = self.records.timers_due(tenant.id, TimerKind.WAKE, until, after=after, limit=_PAGE)
            if not page:
                return
            after = page[-1].sort
            due: list[tuple[MessageJob, Timer]] = []
            drops: list[list[Put | Delete]] = []
            with self.records.read_ahead():
                self.records.prefetch([self.records.job_key(t.tenant_id, t.job_id) for t in page])
                for timer in page:
                    job = self.records.job(timer.tenant_id, timer.job_id)
                    if job is None or job.status is not JobStatus.PLANNED:
                        drops.append([self.records.timer_delete(timer)])
                    elif job.scheduled_at - now <= timedelta(seconds=self.queue.max_delay_seconds):
                        due.append((job, timer))
                    # else: parked for longer than the queue can hold it; this timer comes due again
            self.records.store.write_many(drops)
            self._enqueue(due, now, report)

    def _expire_lease(self, timer: Timer, now: datetime, report: PlanReport) -> None:
        job = self.records.job(timer.tenant_id, timer.job_id)
        drop = self.records.timer_delete(timer)
        if job is None or job.status is not JobStatus.SENDING:
            self.records.store.write(drop)
            return
        if job.lease_until and job.lease_until > now:
            # Still leased (a newer lease than this timer's): a `sending` job always keeps a timer for
            # the end of its lease, or it could stay `sending` where nobody looks.
            live = timer.model_copy(update={"at": job.lease_until})
            if live.sort != timer.sort:
                self.records.store.write(drop, self.records.timer_put(live))
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


def interleave(shares: dict[str, int], after: str = "") -> list[str]:
    """One tenant per slot, each tenant's slots spread evenly: smooth weighted round-robin with the
    shares as weights (equal shares go strictly round; unequal ones stay near their proportional part
    at every point, not one tenant's whole share first). Ties go round starting after `after`."""
    names = sorted(t for t, n in shares.items() if n > 0)
    pivot = next((i for i, t in enumerate(names) if t > after), 0)
    names = names[pivot:] + names[:pivot]
    total = sum(shares[t] for t in names)
    current = dict.fromkeys(names, 0)
    order: list[str] = []
    for _ in range(total):
        for t in names:
            current[t] += shares[t]
        chosen = max(names, key=lambda t: current[t])  # the first of equals wins: the rotated order
        current[chosen] -= total
        order.append(chosen)
    return order
