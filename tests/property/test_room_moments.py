"""Property tests: when does an identity's rolling day have room for `need` sends (the planner hands
each waiting step its own send's room), and the planner's merge of several identities' moments."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.domain.models import SenderIdentity
from outreach_core.policies import limits, warmup
from outreach_core.policies.limits import Limit, from_micros, micros
from outreach_core.policies.warmup import WarmupPlan
from outreach_core.services.planner import _RoomMoments
from tests.fakes import T0

DAY_US = 86_400_000_000
WIDTH = DAY_US // 48
used = st.dictionaries(
    st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=4), max_size=20
)


def _admits(counts: object, at: int, target: int, cap: int, need: int) -> bool:
    """`need` sends in a row at `at` are all granted by the identity's day window."""
    limit = Limit(count=max(1, target), period_s=86_400)
    state = counts
    for _ in range(need):
        decision = limits.window(state, at, limit, cap=cap)
        if not decision.allowed:
            return False
        state = decision.state
    return True


def _cap(at: int, plan: WarmupPlan, target: int) -> int:
    return int(warmup.ramp({}, from_micros(at).date(), plan, target)["cap"])


@given(used, st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=40),
       st.integers(min_value=0, max_value=2 * DAY_US), st.integers(min_value=1, max_value=6))  # fmt: skip
def test_room_for_need_sends_is_named_exactly(
    buckets_used: dict[int, int], target: int, start: int, offset: int, need: int
) -> None:
    plan = WarmupPlan(start=start)
    now = micros(T0) + offset
    counts = {str(now // WIDTH - k): v for k, v in buckets_used.items()}
    first = warmup.day_room_at({}, counts, now, plan, target, need=need)
    if first is None:
        assert target == 0 or need > 1  # one send's room always comes back, unless the cap is 0
        return
    assert first >= now
    assert _admits(counts, first, target, _cap(first, plan, target), need)  # never too early
    before = first - 1
    if first > now and before // DAY_US == first // DAY_US:  # never too late (within its UTC day)
        assert not _admits(counts, before, target, _cap(before, plan, target), need)
    more = warmup.day_room_at({}, counts, now, plan, target, need=need + 1)
    assert more is None or more >= first  # room for more sends never comes sooner


@given(
    st.lists(st.lists(st.integers(min_value=0, max_value=3 * 3600), max_size=6), min_size=1, max_size=3),
    st.integers(min_value=0, max_value=12),
)
def test_the_merged_moments_are_every_identitys_moments_in_order(series: list[list[int]], take: int) -> None:
    # Each identity's moments of room for 1, 2, ... sends (non-decreasing; it runs out after its last).
    moments = [sorted(T0 + timedelta(seconds=s) for s in one) for one in series]
    identities = [
        SenderIdentity(tenant_id="t", id=f"i{n}", email=f"s{n}@t.com", created_at=T0)
        for n in range(len(series))
    ]
    by_id = {i.id: m for i, m in zip(identities, moments, strict=True)}

    def moment(identity: SenderIdentity, need: int) -> datetime | None:
        own = by_id[identity.id]
        return own[need - 1] if need <= len(own) else None

    merged = _RoomMoments(moment, identities)
    expected = sorted(m for own in moments for m in own)
    assert merged.peek() == (expected[0] if expected else None)
    popped = [merged.pop() for _ in range(min(take, len(expected)))]
    assert popped == expected[: len(popped)]
    assert merged.last == (popped[-1] if popped else None)
    if len(popped) == len(expected):
        assert merged.pop() is None
