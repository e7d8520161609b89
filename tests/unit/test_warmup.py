"""The warm-up ramp: grows after clean days, holds after bad ones, never passes the target."""

from __future__ import annotations

from datetime import date, timedelta

from outreach_core.policies.warmup import WarmupPlan, ramp, schedule

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
