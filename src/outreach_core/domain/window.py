"""Sending windows: the recipient's local days and hours in which mail may go out."""

from __future__ import annotations

from collections.abc import Callable
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

    def next_open(self, at: datetime, closed: Callable[[date], bool] | None = None) -> datetime:
        """The earliest instant at or after `at` that lies inside the window (aware, in UTC). `closed`
        says which local days are holidays (domain.holidays): the window does not open on them."""
        local = at.astimezone(zone(self.timezone))
        # An overnight window that opened yesterday may still be open now, so start one day back.
        # Holidays can close weeks (a Christmas shutdown on a Mondays-only window): look up to a year on.
        for offset in range(-1, 9 if closed is None else 400):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days or (closed is not None and closed(day)):
                continue
            opens, closes = self._interval(day)
            if closes <= at:
                continue
            return max(at, opens).astimezone(ZoneInfo("UTC"))
        raise ValueError("the sending window never opens: every day of the next year is a holiday")

    def contains(self, at: datetime, closed: Callable[[date], bool] | None = None) -> bool:
        return self.next_open(at, closed) == at

    def hours_per_day(self) -> float:
        opens = datetime.combine(date(2001, 1, 1), self.start)
        closes = datetime.combine(
            date(2001, 1, 1) + timedelta(days=0 if self.end > self.start else 1), self.end
        )
        return (closes - opens).total_seconds() / 3600

    def describe(self) -> str:
        """ "mon-fri 09:00-17:00 Europe/London", as the status and `leads show` say it."""
        names = [WEEKDAYS[d] for d in self.days]
        if len(names) == 7:
            days = "every day"
        elif list(self.days) == list(range(self.days[0], self.days[-1] + 1)) and len(names) > 2:
            days = f"{names[0]}-{names[-1]}"
        else:
            days = ",".join(names)
        hours = "all day" if self.start == self.end else f"{self.start:%H:%M}-{self.end:%H:%M}"
        return f"{days} {hours} {self.timezone}"


class WindowSpec(BaseModel):
    """Human-friendly input form: days as names, hours as HH:MM."""

    model_config = ConfigDict(frozen=True)

    timezone: str = "UTC"
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    start: str = "09:00"
    end: str = "17:00"

    def to_window(self) -> SendWindow:
        names = [d.strip().lower() for d in self.days]
        if names in (["all"], ["every"], ["daily"]):
            names = list(WEEKDAYS)
        try:
            days = tuple(WEEKDAYS.index(d[:3]) for d in names)
        except ValueError as exc:
            raise ValueError(f"days must be names like mon, tue (or all): got {self.days}") from exc
        return SendWindow(
            timezone=self.timezone,
            days=days,
            start=time.fromisoformat(self.start),
            end=time.fromisoformat(self.end),
        )
