"""Properties of the pure policies: rotation follows weights, windows are honoured, admission never
exceeds its rate, rendering is deterministic and fallbacks never fail."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.domain.window import SendWindow
from outreach_core.policies.admission import TokenBucket
from outreach_core.policies.autostop import SlidingWindow
from outreach_core.policies.rotation import pick_weighted
from outreach_core.rendering.templating import parse, render

weights = st.dictionaries(st.sampled_from("abcdef"), st.integers(min_value=1, max_value=9), min_size=1)


@given(weights, st.integers(min_value=1, max_value=4))
def test_rotation_counts_follow_integer_weights_every_cycle(w: dict[str, int], cycles: int) -> None:
    state: dict[str, float] = {}
    picks = []
    for _ in range(sum(w.values()) * cycles):
        chosen, state = pick_weighted(state, w)
        picks.append(chosen)
    assert Counter(picks) == {k: v * cycles for k, v in w.items()}


@given(weights, st.sets(st.sampled_from("abcdef")), st.integers(min_value=1, max_value=60))
def test_a_removed_identity_is_never_picked(w: dict[str, int], removed: set[str], picks: int) -> None:
    state: dict[str, float] = {}
    eligible = {k: v for k, v in w.items() if k not in removed}
    for _ in range(picks):
        chosen, state = pick_weighted(state, eligible)
        assert chosen is None if not eligible else chosen in eligible


windows = st.builds(
    SendWindow,
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Almaty", "Australia/Sydney"]),
    days=st.sets(st.integers(min_value=0, max_value=6), min_size=1).map(lambda s: tuple(sorted(s))),
    start=st.builds(time, st.integers(0, 23), st.sampled_from([0, 30])),
    end=st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 45])),
)
moments = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@given(windows, moments)
def test_next_open_is_inside_the_window_and_nothing_earlier_is(window: SendWindow, t: datetime) -> None:
    opened = window.next_open(t)
    assert opened >= t and window.contains(opened)
    # No earlier quarter-hour boundary in between lies inside the window.
    probe = t
    while probe < opened - timedelta(minutes=1):
        assert not window.contains(probe), (probe, opened)
        probe += timedelta(minutes=15)


@given(
    st.lists(st.floats(min_value=0, max_value=120), min_size=1, max_size=60),
    st.floats(min_value=0.01, max_value=5),
    st.floats(min_value=1, max_value=20),
)
def test_a_token_bucket_never_admits_more_than_burst_plus_rate_times_time(
    gaps: list[float], rate: float, burst: float
) -> None:
    start = datetime(2026, 1, 5, tzinfo=UTC)
    now, doc, taken = start, {}, 0
    for gap in gaps:
        now += timedelta(seconds=gap)
        bucket = TokenBucket.restore(doc, rate_per_s=rate, burst=burst, now=now)
        while bucket.take():
            taken += 1
        doc = bucket.dump()
    elapsed = (now - start).total_seconds()
    assert taken <= math.floor(burst + rate * elapsed + 1e-6)


@given(st.lists(st.tuples(st.integers(0, 30), st.sampled_from("pdbc")), max_size=200), st.integers(1, 50))
def test_a_sliding_window_never_holds_more_than_n_sends(events: list[tuple[int, str]], size: int) -> None:
    window = SlidingWindow(size=size)
    for job, outcome in events:
        window = window.record_send(str(job)).record_outcome(str(job), outcome)
        assert window.sends <= size and len(window.outcomes) == window.sends
        assert 0.0 <= window.rate("b") <= 1.0


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.sampled_from(["send", "send", "outcome"]), st.sampled_from("dbc")),
        max_size=300,
    ),
    st.integers(1, 40),
)
def test_a_window_of_tags_counts_exactly_what_a_window_of_job_ids_would(
    steps: list[tuple[int, str, str]], size: int
) -> None:
    # The reference keeps the full job ids (the window's meaning); the window keeps 48-bit tags.
    window, jobs, outcomes = SlidingWindow(size=size), [], []
    for n, action, letter in steps:
        job = f"camp_l-{n:016x}_1"
        window = window.record_send(job) if action == "send" else window.record_outcome(job, letter)
        if action == "send" and job not in jobs:
            jobs, outcomes = [*jobs, job][-size:], [*outcomes, "p"][-size:]
        elif action == "outcome" and job in jobs and outcomes[jobs.index(job)] != "c":
            outcomes[jobs.index(job)] = letter
        assert window.outcomes == "".join(outcomes)
        assert window.sends == len(jobs) <= size


field_values = st.dictionaries(
    st.sampled_from(["first_name", "company", "city"]), st.text(max_size=12), max_size=3
)


@given(field_values, st.integers())
def test_rendering_with_fallbacks_never_fails_and_is_deterministic(values: dict[str, str], seed: int) -> None:
    parsed = parse("text", "{Hi|Hello|Hey} {{first_name|there}} at {{company|your team}} in {{city|town}}")
    first = render(parsed, values, seed)
    assert first == render(parsed, values, seed)
    # Lead values are inserted verbatim (never read as template syntax); empty ones take the fallback.
    filled = [
        (values.get(k, "").strip() or d)
        for k, d in (("first_name", "there"), ("company", "your team"), ("city", "town"))
    ]
    assert first in {f"{g} {filled[0]} at {filled[1]} in {filled[2]}" for g in ("Hi", "Hello", "Hey")}
