"""The warm-up ramp: grows after clean days, holds after bad ones, never passes the target."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from outreach_core.policies import limits
from outreach_core.policies.limits import from_micros, micros
from outreach_core.policies.warmup import WarmupPlan, day_room_at, ramp, schedule

D0 = date(2026, 1, 5)
PLAN = WarmupPlan(start=20, growth=1.2)


def test_new_identity_starts_at_the_plan_start_and_grows_twenty_percent_a_clean_day() -> None:
    state = ramp({}, D0, PLAN, target=90)
    assert state["cap"] == 20
    state["stats"] = {"sent": 20}
    assert ramp(state, D0 + timedelta(days=1), PLAN, 90)["cap"] == 24
    assert schedule({}, D0, PLAN, 90) == [20, 24, 29, 35, 42, 51, 62]


def test_a_bad_day_holds_the_ramp() -> None:
    state = {**ramp({}, D0, PLAN, 90), "stats": {"sent": 20, "bounced": 2}}  # 10% bounces
    held = ramp(state, D0 + timedelta(days=1), PLAN, 90)
    assert held["cap"] == 20
    assert held["held"] == 1
    throttled = {**ramp({}, D0, PLAN, 90), "stats": {"sent": 20, "deferred": 3}}
    assert ramp(throttled, D0 + timedelta(days=1), PLAN, 90)["cap"] == 20


def test_the_ramp_stops_at_the_target_and_can_be_switched_off() -> None:
    assert schedule({}, D0, PLAN, 30, days=10)[-1] == 30
    assert ramp({}, D0, WarmupPlan(enabled=False), 90)["cap"] == 90


def test_a_full_day_has_room_again_at_midnight_when_the_ramp_grows_else_when_its_sends_leave() -> None:
    day = limits.Limit(count=90, period_s=86_400)
    counts = None
    for n in range(20):  # today's cap, sent from 09:00 to 09:19 UTC
        counts = limits.window(counts, micros(datetime(2026, 1, 5, 9, n, tzinfo=UTC)), day).state
    noon = micros(datetime(2026, 1, 5, 12, tzinfo=UTC))
    clean = {**ramp({}, D0, PLAN, 90), "stats": {"sent": 20}}
    assert from_micros(day_room_at(clean, counts, noon, PLAN, 90) or 0) == datetime(2026, 1, 6, tzinfo=UTC)
    bad = {**clean, "stats": {"sent": 20, "bounced": 2}}  # the ramp holds at 20: wait for 09:00's bucket
    assert from_micros(day_room_at(bad, counts, noon, PLAN, 90) or 0) == datetime(
        2026, 1, 6, 9, 30, tzinfo=UTC
    )
    assert day_room_at(clean, counts, noon, PLAN, 0) is None  # a cap of 0: never
