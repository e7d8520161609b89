"""Sending windows: the recipient's local days and hours in which mail may go out."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r} (use an IANA name such as Europe/Berlin)") from exc


class SendWindow(BaseModel):
    """Days (0 = Monday) and local hours [start, end). An end at or before the start spans midnight."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: time = time(9, 0)
    end: time = time(17, 0)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone(value)
        return value

    @field_validator("days")
    @classmethod
    def _valid_days(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value or any(d < 0 or d > 6 for d in value):
            raise ValueError("days must be a non-empty subset of 0..6 (0 = Monday)")
        return tuple(sorted(set(value)))

    def in_zone(self, timezone: str | None) -> SendWindow:
        return (
            self
            if not timezone or timezone == self.timezone
            else self.model_copy(update={"timezone": timezone})
        )

    def _interval(self, day: date) -> tuple[datetime, datetime]:
        tz = zone(self.timezone)
        opens = datetime.combine(day, self.start, tzinfo=tz)
        closes_day = day if self.end > self.start else day + timedelta(days=1)
        closes = datetime.combine(closes_day, self.end, tzinfo=tz)
        return opens, closes

    def next_open(self, at: datetime) -> datetime:
        """The earliest instant at or after `at` that lies inside the window (aware, in UTC)."""
        local = at.astimezone(zone(self.timezone))
        # An overnight window that opened yesterday may still be open now, so start one day back.
        for offset in range(-1, 9):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            opens, closes = self._interval(day)
            if closes <= at:
                continue
            return max(at, opens).astimezone(ZoneInfo("UTC"))
        raise ValueError("window never opens")  # unreachable: days is non-empty

    def contains(self, at: datetime) -> bool:
        return self.next_open(at) == at


class WindowSpec(BaseModel):
    """Human-friendly input form: days as names, hours as HH:MM."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = "09:00"
    end: str = "17:00"

    def to_window(self) -> SendWindow:
        try:
            days = tuple(WEEKDAYS.index(d.strip().lower()[:3]) for d in self.days)
        except ValueError as exc:
            raise ValueError(f"days must be names like mon, tue: got {self.days}") from exc
        return SendWindow(
            timezone=self.timezone,
            days=days,
            start=time.fromisoformat(self.start),
            end=time.fromisoformat(self.end),
        )
