from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from outreach_core.domain.window import SendWindow, WindowSpec

BERLIN = SendWindow(timezone="Europe/Berlin", start=time(9), end=time(17))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestNextOpen:
    def test_inside_the_window_is_now(self) -> None:
        # Monday 5 Jan 2026, 10:00 UTC = 11:00 in Berlin
        assert BERLIN.next_open(utc(2026, 1, 5, 10)) == utc(2026, 1, 5, 10)

    def test_before_opening_waits_for_local_nine(self) -> None:
        assert BERLIN.next_open(utc(2026, 1, 5, 6)) == utc(2026, 1, 5, 8)  # 09:00 CET = 08:00 UTC

    def test_after_closing_moves_to_the_next_weekday(self) -> None:
        assert BERLIN.next_open(utc(2026, 1, 5, 16, 30)) == utc(2026, 1, 6, 8)

    def test_friday_evening_skips_the_weekend(self) -> None:
        assert BERLIN.next_open(utc(2026, 1, 9, 17)) == utc(2026, 1, 12, 8)

    def test_the_recipients_zone_decides(self) -> None:
        new_york = BERLIN.in_zone("America/New_York")
        assert new_york.next_open(utc(2026, 1, 5, 10)) == utc(2026, 1, 5, 14)  # 09:00 EST

    def test_daylight_saving_shifts_the_utc_opening(self) -> None:
        # Berlin moves to CEST on 29 March 2026: 09:00 local is 07:00 UTC from then on.
        assert BERLIN.next_open(utc(2026, 3, 27, 5)) == utc(2026, 3, 27, 8)
        assert BERLIN.next_open(utc(2026, 3, 30, 5)) == utc(2026, 3, 30, 7)

    def test_an_overnight_window_spans_midnight(self) -> None:
        night = SendWindow(timezone="UTC", days=(0,), start=time(22), end=time(2))
        assert night.next_open(utc(2026, 1, 5, 21)) == utc(2026, 1, 5, 22)
        assert night.contains(utc(2026, 1, 6, 1))  # Monday's window, Tuesday 01:00
        assert night.next_open(utc(2026, 1, 6, 3)) == utc(2026, 1, 12, 22)

    def test_contains(self) -> None:
        assert BERLIN.contains(utc(2026, 1, 5, 8))
        assert not BERLIN.contains(utc(2026, 1, 5, 16))


class TestValidation:
    def test_unknown_zone_is_refused_with_a_hint(self) -> None:
        with pytest.raises(ValueError, match="IANA"):
            SendWindow(timezone="Mars/Olympus")

    def test_days_must_be_weekdays(self) -> None:
        with pytest.raises(ValueError):
            SendWindow(days=(7,))

    def test_spec_reads_day_names_and_hours(self) -> None:
        window = WindowSpec(
            timezone="Europe/Moscow", days=["Mon", "wed"], start="10:00", end="12:30"
        ).to_window()
        assert window.days == (0, 2) and window.end == time(12, 30)
        assert window.next_open(utc(2026, 1, 6, 12)) == utc(2026, 1, 7, 7)

    def test_spec_refuses_unknown_day_names(self) -> None:
        with pytest.raises(ValueError, match="days"):
            WindowSpec(days=["someday"]).to_window()


def test_next_open_is_never_earlier_than_asked() -> None:
    start = utc(2026, 1, 1)
    for hours in range(0, 24 * 14, 5):
        t = start + timedelta(hours=hours)
        opened = BERLIN.next_open(t)
        assert opened >= t and BERLIN.contains(opened)
