"""Build a tenant's holiday table from the `holidays` package (CLI only: `outreach tenant holidays`).

The package is 13 MB on disk, 1.6 MB zipped: it does not fit in the Lambda zip (5 MB budget) beside
everything else. So it runs where the operator runs the CLI, and what the planner and the sender need
(the dates of the countries the tenant enables, for the years it covers, with their names) is stored on
the tenant as data (domain.holidays.HolidayCalendar). `outreach status` says when it needs renewing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import holidays
from holidays.registry import COUNTRIES

from outreach_core.domain.holidays import HolidayCalendar

YEARS_AHEAD = 2  # this year and the next two


class UnknownCountry(ValueError):
    pass


def _codes() -> dict[str, str]:
    """Every name the package knows a country by (alpha-2, alpha-3, "united_kingdom", "United Kingdom")
    -> its alpha-2 code."""
    names: dict[str, str] = {}
    for module, (class_name, alpha2, alpha3, *_) in COUNTRIES.items():
        for name in (alpha2, alpha3, module, module.replace("_", " "), class_name):
            names[name.lower()] = alpha2
    return names


def country_code(name: str) -> str:
    code = _codes().get(name.strip().lower())
    if code is None:
        raise UnknownCountry(f"unknown country {name!r}: use an ISO 3166 code such as GB, DE or US")
    return code


def build_calendar(
    countries: Iterable[str],
    lead_countries: Iterable[str],
    custom: dict[str, str],
    today: date,
    years_ahead: int = YEARS_AHEAD,
) -> HolidayCalendar:
    """The table for the tenant's own countries and its leads' countries, this year and `years_ahead`
    more; names in English where the package has them."""
    own = tuple(dict.fromkeys(country_code(c) for c in countries))
    leads = tuple(dict.fromkeys(country_code(c) for c in lead_countries))
    years = tuple(range(today.year, today.year + years_ahead + 1))
    days: dict[str, dict[str, str]] = {}
    for code in dict.fromkeys((*own, *leads)):
        table = holidays.country_holidays(code, years=years, language="en_US")
        days[code] = {day.isoformat(): name for day, name in sorted(table.items())}
    aliases = {name: code for name, code in _codes().items() if code in leads and name != code.lower()}
    return HolidayCalendar(
        countries=own, lead_countries=leads, custom=dict(sorted(custom.items())), days=days,
        aliases=aliases, years=years,
    )  # fmt: skip
