"""When will it be done: the tenant's remaining sends laid out day by day under every limit.

Pure: the caller hands over what is still to send (each lead's next step, from when it may go) and the
limits; nothing here reads the store or the clock. Each day of the tenant's window (not on its days
off, not on its holidays or a lead country's), a day's sends are bounded by
  the tenant's daily quota, and its hourly quota times the window's hours;
  each identity's warm-up cap for that day (the ramp grows a step a day), its per-hour and per-minute
  limits times the window's hours, and its daily cap;
and go to the oldest eligible messages first, each through an identity that serves its campaign's
direction (campaigns of one tenant share identities, so they are laid out together). A step sent on a
day makes the next step eligible its delay later.

Assumptions, said with every forecast: every day is clean (a bounce or deferral spike holds the
warm-up), no lead replies or bounces (those end a sequence early: the real end can only come sooner),
the account's rate and the receiving providers' per-identity limits are not the binding ones.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta

HORIZON_DAYS = 366
ASSUMPTIONS = (
    "every day is clean (a bounce or deferral spike holds the warm-up ramp)",
    "no lead replies, bounces or unsubscribes (each ends a sequence early: the real end comes sooner)",
    "the account's send rate and the mailbox providers' per-identity limits never bind",
)


@dataclass(frozen=True)
class Pending:
    """A lead's next message in one campaign, and what follows it."""

    campaign: str
    lead: str
    step: int
    ready: date  # the first local day it may go (a step timer's day, a queued job's slot)
    delays: tuple[int, ...]  # whole days before each later step (step+1, step+2, ...)
    country: str = ""


@dataclass(frozen=True)
class IdentityLimit:
    identity: str
    directions: frozenset[str]  # empty: every direction
    caps: Callable[[int], int]  # the day's send cap, by days from today (warm-up ramp, daily cap)
    per_hour: int | None
    per_minute: int | None
    used_today: int = 0

    def serves(self, direction: str) -> bool:
        return not self.directions or direction in self.directions


@dataclass(frozen=True)
class TenantLimits:
    daily: int
    hourly: int
    window_days: frozenset[int]  # weekday numbers, 0 = Monday
    hours: float  # the window's length
    hours_left_today: float
    used_today: int = 0
    closed: Callable[[date, str], str | None] = lambda day, country: None  # a holiday's name, or None


@dataclass
class DayPlan:
    day: date
    sent: int = 0
    capacity: int = 0
    binding: str = ""  # what bounded the day ("warm-up caps 20+20", "tenant hourly 60 x 8 h", ...)
    closed: str = ""  # a day off or a holiday for every lead
    per_campaign: dict[str, int] = field(default_factory=dict)


@dataclass
class Forecast:
    days: list[DayPlan]
    messages: int
    done: dict[str, date | None]  # campaign -> the day its last message goes (None: not within the horizon)
    left_over: int = 0  # messages not placed within the horizon
    assumptions: tuple[str, ...] = ASSUMPTIONS

    def finish(self, campaign: str) -> date | None:
        return self.done.get(campaign)

    @property
    def working_days(self) -> list[DayPlan]:
        return [d for d in self.days if d.sent]


def _identity_room(limit: IdentityLimit, offset: int, hours: float) -> tuple[int, str]:
    room, why = limit.caps(offset), "warm-up/daily cap"
    if limit.per_hour is not None and limit.per_hour * hours < room:
        room, why = int(limit.per_hour * hours), f"{limit.per_hour}/hour"
    if limit.per_minute is not None and limit.per_minute * 60 * hours < room:
        room, why = int(limit.per_minute * 60 * hours), f"{limit.per_minute}/minute"
    if offset == 0:
        room = max(0, room - limit.used_today)
    return room, why


def forecast(
    pending: Sequence[Pending],
    directions: Mapping[str, str],
    identities: Sequence[IdentityLimit],
    tenant: TenantLimits,
    today: date,
    horizon_days: int = HORIZON_DAYS,
) -> Forecast:
    """Lay the pending messages out over the days from `today`. `directions`: campaign -> direction."""
    layout = _Layout(directions, identities, tenant)
    for n, item in enumerate(pending):
        heapq.heappush(layout.queue, (max(item.ready, today), n, item))
    layout.counter = len(pending)
    done: dict[str, date | None] = {p.campaign: None for p in pending}
    days: list[DayPlan] = []
    for offset in range(horizon_days):
        if not layout.queue:
            break
        days.append(layout.day(today + timedelta(days=offset), offset, done))
    for _, _, item in layout.queue:
        done[item.campaign] = None
    return Forecast(
        days=days,
        messages=sum(1 + len(p.delays) for p in pending),
        done=done,
        left_over=sum(1 + len(item.delays) for _, _, item in layout.queue),
    )


class _Layout:
    def __init__(
        self, directions: Mapping[str, str], identities: Sequence[IdentityLimit], tenant: TenantLimits
    ) -> None:
        self.directions, self.identities, self.tenant = directions, identities, tenant
        self.queue: list[tuple[date, int, Pending]] = []
        self.counter = 0

    def day(self, day: date, offset: int, done: dict[str, date | None]) -> DayPlan:
        tenant = self.tenant
        plan = DayPlan(day)
        closed = tenant.closed(day, "")
        if day.weekday() not in tenant.window_days or closed:
            plan.closed = closed or "not a sending day"
            return plan
        hours = tenant.hours_left_today if offset == 0 else tenant.hours
        tenant_room = min(tenant.daily, int(tenant.hourly * hours))
        if offset == 0:
            tenant_room = max(0, tenant_room - tenant.used_today)
        rooms: dict[str, int] = {}
        reasons: dict[str, str] = {}
        for limit in self.identities:
            rooms[limit.identity], reasons[limit.identity] = _identity_room(limit, offset, hours)
        plan.capacity = min(tenant_room, sum(rooms.values()))
        waiting: list[tuple[date, int, Pending]] = []
        while self.queue and self.queue[0][0] <= day and plan.sent < plan.capacity:
            entry = heapq.heappop(self.queue)
            if not self._place(entry[2], day, rooms, plan, done):
                waiting.append(entry)
        for entry in waiting:
            heapq.heappush(self.queue, entry)
        plan.binding = _binding(plan, tenant_room, tenant, hours, rooms, reasons, self.queue, day)
        return plan

    def _place(
        self, item: Pending, day: date, rooms: dict[str, int], plan: DayPlan, done: dict[str, date | None]
    ) -> bool:
        """Send `item` on `day` through an identity with room; False: it waits (holiday, no room)."""
        if self.tenant.closed(day, item.country):  # the lead's country is on holiday
            return False
        direction = self.directions[item.campaign]
        chosen = next(
            (i.identity for i in self.identities if i.serves(direction) and rooms[i.identity] > 0), None
        )
        if chosen is None:
            return False
        rooms[chosen] -= 1
        plan.sent += 1
        plan.per_campaign[item.campaign] = plan.per_campaign.get(item.campaign, 0) + 1
        done[item.campaign] = day
        if item.delays:
            follow = Pending(
                item.campaign, item.lead, item.step + 1, day + timedelta(days=item.delays[0]),
                item.delays[1:], item.country,
            )  # fmt: skip
            self.counter += 1
            heapq.heappush(self.queue, (follow.ready, self.counter, follow))
        return True


def _binding(
    plan: DayPlan,
    tenant_room: int,
    tenant: TenantLimits,
    hours: float,
    rooms: Mapping[str, int],
    reasons: Mapping[str, str],
    queue: Sequence[tuple[date, int, Pending]],
    day: date,
) -> str:
    """In a few words, why the day sent what it did."""
    if not any(ready <= day for ready, _, _ in queue):
        return "everything ready went" if plan.sent else "nothing ready (follow-up delays)"
    if plan.sent >= tenant_room:
        if tenant_room == tenant.daily:
            return f"tenant daily quota {tenant.daily}"
        return f"tenant hourly quota {tenant.hourly} x {hours:g} h"
    full = sorted({reasons[i] for i, room in rooms.items() if room <= 0})
    return "identities at " + ", ".join(full) if full else "identities of these directions at their caps"
