"""Holiday calendars as data: the days a tenant does not send, in its own countries and its leads'.

The table is built outside the core (the `holidays` package, at `outreach tenant holidays` time) for the
countries a tenant enables and the years it covers, and stored on the tenant. The core only looks days
up in it, so the planner and the sender need neither the package nor any IO to respect it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from pydantic import BaseModel, ConfigDict, Field

ClosedDays = Callable[[date], bool]


class HolidayCalendar(BaseModel):
    model_config = ConfigDict(frozen=True)

    countries: tuple[str, ...] = Field(default=(), description="the tenant's own: no lead is mailed then")
    lead_countries: tuple[str, ...] = Field(default=(), description="a lead in one is not mailed on its days")
    custom: dict[str, str] = Field(default_factory=dict, description="ISO date -> name, for every lead")
    days: dict[str, dict[str, str]] = Field(default_factory=dict, description="country -> ISO date -> name")
    aliases: dict[str, str] = Field(default_factory=dict, description="country name / alpha-3 -> code")
    years: tuple[int, ...] = ()  # the years the generated table covers

    @property
    def empty(self) -> bool:
        return not (self.countries or self.lead_countries or self.custom)

    def country_code(self, country: str) -> str | None:
        """A lead's country column ("DE", "de", "Germany", "DEU") as an enabled code, else None."""
        key = country.strip()
        if not key:
            return None
        code: str | None = (
            key.upper() if key.upper() in self.lead_countries else self.aliases.get(key.lower())
        )
        return code if code in self.lead_countries else None

    def holiday(self, day: date, lead_country: str = "") -> str | None:
        """Why `day` is closed for a lead in `lead_country` ("Good Friday (GB)"), or None if it is open."""
        iso = day.isoformat()
        if iso in self.custom:
            return self.custom[iso] or "closed"
        for code in self.countries:
            name = self.days.get(code, {}).get(iso)
            if name is not None:
                return f"{name} ({code})"
        lead_code = self.country_code(lead_country)
        if lead_code is not None and lead_code not in self.countries:
            name = self.days.get(lead_code, {}).get(iso)
            if name is not None:
                return f"{name} ({lead_code})"
        return None

    def closed_for(self, lead_country: str = "") -> ClosedDays | None:
        """The lead's closed-day test for SendWindow.next_open, or None when nothing is ever closed."""
        if self.empty:
            return None
        return lambda day: self.holiday(day, lead_country) is not None

    def covers(self, day: date) -> bool:
        """False past the generated years: the calendar needs `outreach tenant holidays` run again."""
        return not (self.countries or self.lead_countries) or day.year in self.years
