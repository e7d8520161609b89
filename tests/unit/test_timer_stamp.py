"""A timer's sort key is its time as TIME_FORMAT writes it, formatted by hand for speed: the same text
as strftime, and its order is the order of the times (timers are read back by key range)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from outreach_core.records import TIME_FORMAT, stamp

offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30))


@given(moments, st.one_of(st.just(UTC), offsets))
def test_stamp_is_the_strftime_text(at: datetime, tz: timezone) -> None:
    aware = at.replace(tzinfo=tz)
    assert stamp(aware) == aware.strftime(TIME_FORMAT)
    assert stamp(at) == at.strftime(TIME_FORMAT)


@given(moments, moments)
def test_stamps_sort_as_their_times(a: datetime, b: datetime) -> None:
    a, b = a.replace(tzinfo=UTC, microsecond=0), b.replace(tzinfo=UTC, microsecond=0)
    assert (stamp(a) < stamp(b)) == (a < b)
