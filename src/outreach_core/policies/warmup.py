"""Warm-up: a new identity's daily cap follows a ramp (design.md §5, deliverability.md §5).

The ramp is data (start, growth, minimum step). It advances once per UTC day, but only after a clean
day: a day whose throttle, bounce or complaint figures crossed the hold thresholds freezes the cap
(Warmbly's "graduation gate"; deliverability.md §5 "freeze the ramp ... on any of"). State is a small
document: the day it describes, the cap for that day, days ramped and held, and the day's counters.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from outreach_core.policies.limits import Limit, first_room, from_micros

_DAY_S = 86_400  # a UTC day (config.DAY; config imports this module)
_DAY_US = _DAY_S * 1_000_000


class WarmupPlan(BaseModel):
    model_config = ConfigDict(frozen=True)

    enabled: bool = True
    start: int = Field(default=20, ge=1, description="sends on the first day")
    growth: float = Field(default=1.2, ge=1.0, description="cap multiplier after a clean day")
    min_step: int = Field(default=1, ge=0, description="grow by at least this much after a clean day")
    hold_throttle_rate: float = Field(default=0.05, ge=0, description="4.7.x/deferrals per send")
    hold_bounce_rate: float = Field(default=0.03, ge=0)
    hold_complaint_rate: float = Field(default=0.001, ge=0)
    min_sample: int = Field(default=10, ge=1, description="fewer sends in a day say nothing about it")


def grow(cap: int, plan: WarmupPlan, target: int) -> int:
    return min(target, max(cap + plan.min_step, math.ceil(cap * plan.growth)))


def bad_day(stats: Mapping[str, int], plan: WarmupPlan) -> bool:
    sent = int(stats.get("sent", 0))
    if sent < plan.min_sample:
        return False
    return (
        int(stats.get("deferred", 0)) / sent > plan.hold_throttle_rate
        or int(stats.get("bounced", 0)) / sent > plan.hold_bounce_rate
        or int(stats.get("complained", 0)) / sent > plan.hold_complaint_rate
    )


def ramp(state: Mapping[str, Any], today: date, plan: WarmupPlan, target: int) -> dict[str, Any]:
    """The ramp state for `today`: advanced over every day since the stored one. Pure."""
    if not plan.enabled:
        return {"day": today.isoformat(), "cap": target, "ramped": 0, "held": 0, "stats": {}}
    if not state:
        return {"day": today.isoformat(), "cap": min(plan.start, target), "ramped": 0, "held": 0, "stats": {}}
    day = date.fromisoformat(str(state["day"]))
    cap, ramped, held = int(state["cap"]), int(state.get("ramped", 0)), int(state.get("held", 0))
    stats: Mapping[str, int] = state.get("stats", {})
    while day < today:
        # Only the first elapsed day has counters; idle days after it are clean (nothing went wrong).
        if bad_day(stats, plan):
            held += 1
        else:
            cap, ramped = grow(cap, plan, target), ramped + 1
        stats, day = {}, day + timedelta(days=1)
    return {
        "day": today.isoformat(),
        "cap": min(cap, target),
        "ramped": ramped,
        "held": held,
        "stats": dict(stats),
    }


def schedule(
    state: Mapping[str, Any], today: date, plan: WarmupPlan, target: int, days: int = 7
) -> list[int]:
    """The caps of today and the next days if every day is clean: what `outreach status` shows."""
    current = ramp(state, today, plan, target)
    caps = [int(current["cap"])]
    while len(caps) < days:
        caps.append(grow(caps[-1], plan, target) if plan.enabled else target)
    return caps


def day_room_at(
    state: Mapping[str, Any],
    day_counts: Any,
    now_us: int,
    plan: WarmupPlan,
    target: int,
    buckets: int = 48,
    need: int = 1,
) -> int | None:
    """The first instant at or after `now_us` at which an identity's rolling day has room for `need`
    more sends (one by default) under the warm-up cap of that instant's UTC day: what the limiter's day
    check would grant, if nothing else is sent meanwhile. None when it never will (a cap of 0). Pure.
    Room for `need` is room for one under a cap `need - 1` lower.

    Within a UTC day the cap is fixed and the window only empties, so the window's own retry time is
    exact; at midnight the ramp may raise the cap (assuming today ends clean), so look again there.
    Every send now counted has left the window within two days: four days are always enough."""
    limit = Limit(count=max(1, target), period_s=_DAY_S)
    at = now_us
    for _ in range(4):
        midnight = (at // _DAY_US + 1) * _DAY_US
        cap = int(ramp(state, from_micros(at).date(), plan, target)["cap"])
        first = first_room(day_counts, at, limit, buckets, cap - (need - 1))
        if first is not None and first < midnight:
            return first
        at = midnight
    return None
