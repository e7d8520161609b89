"""Invariants of issue 15's policies: the forecast never plans past a limit and more room never makes it
later; a lead's A/B variant is fixed and follows the weights; no A/B winner below the sample size; a
holiday never opens the window; template positions are where the text says."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from outreach_core.domain.models import CampaignStep, Variant
from outreach_core.domain.window import SendWindow
from outreach_core.policies.abtest import MIN_SAMPLE, VariantFigures, verdict
from outreach_core.policies.forecast import IdentityLimit, Pending, TenantLimits, forecast
from outreach_core.rendering.templating import where

FAST = settings(max_examples=60, deadline=None)
TODAY = date(2026, 1, 5)


def _pending(n: int, steps: int, delay: int) -> list[Pending]:
    return [Pending("c", f"l{i}", 1, TODAY, tuple([delay] * (steps - 1))) for i in range(n)]


def _identity(cap: int, per_hour: int | None = None) -> IdentityLimit:
    return IdentityLimit("i", frozenset(), lambda offset: cap, per_hour, None)


def _tenant(daily: int, hourly: int, days: frozenset[int] = frozenset(range(7))) -> TenantLimits:
    return TenantLimits(daily=daily, hourly=hourly, window_days=days, hours=8, hours_left_today=8)


@FAST
@given(
    leads=st.integers(0, 80),
    steps=st.integers(1, 3),
    delay=st.integers(0, 4),
    cap=st.integers(1, 40),
    daily=st.integers(1, 60),
    hourly=st.integers(1, 20),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
)
def test_the_forecast_keeps_every_limit_and_places_every_message(
    leads: int, steps: int, delay: int, cap: int, daily: int, hourly: int, weekdays: frozenset[int]
) -> None:
    plan = forecast(
        _pending(leads, steps, delay), {"c": "d"}, [_identity(cap)], _tenant(daily, hourly, weekdays), TODAY
    )
    assert sum(d.sent for d in plan.days) + plan.left_over == leads * steps == plan.messages
    for day in plan.days:
        assert day.sent <= min(daily, hourly * 8, cap)
        if day.day.weekday() not in weekdays:
            assert day.sent == 0


@FAST
@given(leads=st.integers(1, 60), cap=st.integers(1, 30), more=st.integers(1, 30))
def test_more_room_never_finishes_later(leads: int, cap: int, more: int) -> None:
    tenant = _tenant(1000, 1000)
    slow = forecast(_pending(leads, 2, 2), {"c": "d"}, [_identity(cap)], tenant, TODAY).finish("c")
    fast = forecast(_pending(leads, 2, 2), {"c": "d"}, [_identity(cap + more)], tenant, TODAY).finish("c")
    assert slow is not None and fast is not None and fast <= slow


@FAST
@given(weights=st.lists(st.integers(1, 100), min_size=2, max_size=5))
def test_a_leads_variant_is_fixed_and_follows_the_weights(weights: list[int]) -> None:
    variants = tuple(Variant(template_id=f"t{n}", weight=w) for n, w in enumerate(weights))
    step = CampaignStep(number=1, template_id="t0", variants=variants)
    picks = Counter(step.template_for("acme", "c", f"l-{n}") for n in range(2000))
    assert all(
        step.template_for("acme", "c", f"l-{n}") == step.template_for("acme", "c", f"l-{n}")
        for n in range(50)
    )
    total = sum(weights)
    for n, weight in enumerate(weights):
        assert abs(picks[f"t{n}"] / 2000 - weight / total) < 0.06


@FAST
@given(
    sent=st.lists(st.integers(0, 500), min_size=2, max_size=5),
    rates=st.lists(st.floats(0, 1), min_size=5, max_size=5),
)
def test_no_ab_winner_below_the_sample_size(sent: list[int], rates: list[float]) -> None:
    figures = [VariantFigures(f"t{n}", s, int(s * rates[n])) for n, s in enumerate(sent)]
    said = verdict(figures)
    if min(sent) < MIN_SAMPLE:
        assert said.startswith("no winner yet")
    elif not said.startswith("no winner yet"):
        leader = said.split(" ", 1)[0]
        assert (
            max(figures, key=lambda f: f.reply_rate).reply_rate
            == next(f for f in figures if f.template == leader).reply_rate
        )


@FAST
@given(
    closed=st.sets(st.integers(0, 40), max_size=30),
    start=st.integers(0, 23),
    offset_minutes=st.integers(0, 60 * 24 * 30),
)
def test_the_window_never_opens_on_a_holiday(closed: set[int], start: int, offset_minutes: int) -> None:
    window = SendWindow(
        timezone="Europe/Berlin", days=(0, 1, 2, 3, 4), start=time(start, 0), end=time(start, 30)
    )
    holidays = {TODAY + timedelta(days=d) for d in closed}
    at = datetime(2026, 1, 5, tzinfo=UTC) + timedelta(minutes=offset_minutes)
    opens = window.next_open(at, holidays.__contains__)
    assert opens >= at and window.contains(opens, holidays.__contains__)
    assert opens.astimezone(ZoneInfo("Europe/Berlin")).date() not in holidays  # the window is within a day


@FAST
@given(text=st.text(alphabet="ab\n{}", max_size=60), data=st.data())
def test_a_position_names_the_line_and_column_the_offset_is_at(text: str, data: st.DataObject) -> None:
    offset = data.draw(st.integers(0, len(text)))
    line, column = (int(x.split(" ")[-1]) for x in where(text, offset).split(", "))
    lines = text.split("\n")
    assert sum(len(x) + 1 for x in lines[: line - 1]) + column - 1 == offset
