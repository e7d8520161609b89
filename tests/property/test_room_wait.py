"""Property tests: a capacity change (services.sequence.pull_waiting_steps) makes due exactly the steps
refiled to wait for room; a step waiting for its window or its sequence's delay never moves, and no
step is lost or doubled."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.records import Records, Timer, TimerKind
from outreach_core.services.sequence import ROOM_WAIT_AT_MOST, pull_waiting_steps
from tests.fakes import T0, InMemoryStateStore

waits = st.lists(
    st.tuples(
        st.integers(min_value=-3600, max_value=int(ROOM_WAIT_AT_MOST.total_seconds())),  # at, from now
        st.booleans(),  # refiled for room
        st.integers(min_value=1, max_value=3),  # step
    ),
    max_size=40,
)


@given(waits)
def test_only_steps_waiting_for_room_come_due_and_none_is_lost(timers: list[tuple[int, bool, int]]) -> None:
    records = Records(InMemoryStateStore())
    filed = [
        Timer(
            tenant_id="t",
            at=T0 + timedelta(seconds=offset),
            kind=TimerKind.STEP,
            job_id=f"c_l{n}_{step}",
            campaign_id="c",
            lead_id=f"l{n}",
            step=step,
            for_room=for_room,
        )
        for n, (offset, for_room, step) in enumerate(timers)
    ]
    for timer in filed:
        records.store.write(records.timer_put(timer))
    moved = pull_waiting_steps(records, "t", T0)
    after = {t.job_id: t for t in records.timers_due("t", TimerKind.STEP, T0 + timedelta(days=30))}
    assert set(after) == {t.job_id for t in filed}  # none lost, none doubled
    assert len(after) == len(records.timers_due("t", TimerKind.STEP, T0 + timedelta(days=30)))
    for timer in filed:
        now = after[timer.job_id]
        if timer.for_room and timer.at > T0:
            assert now.at == T0 and not now.for_room  # due now, read at the next tick
        else:
            assert now == timer  # its window or its sequence's delay: untouched
    assert moved == sum(1 for t in filed if t.for_room and t.at > T0)
