"""Receiving providers: who really holds a recipient's mailbox, found by MX (deliverability.md §4).

Throttling is keyed on the provider behind the MX, not the literal domain: many business domains
live on Google Workspace or Microsoft 365, and a limit per domain would miss most of the load on them.
Gateways (Proofpoint, Mimecast) are their own bucket: their throttling is independent of the mailbox
behind them. Default limits per provider are data (deliverability.md §3, §5, §8; see docs/policies.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Provider(StrEnum):
    GOOGLE = "google"  # Gmail consumer
    GOOGLE_WORKSPACE = "google-workspace"
    MICROSOFT = "microsoft"  # Outlook.com consumer
    MICROSOFT_365 = "microsoft-365"
    YAHOO = "yahoo"  # Yahoo and AOL
    MAILRU = "mailru"
    VK_WORKSPACE = "vk-workspace"
    YANDEX = "yandex"
    YANDEX_360 = "yandex-360"
    ICLOUD = "icloud"
    ZOHO = "zoho"
    PROOFPOINT = "proofpoint"
    MIMECAST = "mimecast"
    OTHER = "other"


# Well-known consumer domains: no DNS needed (and the MX of some of them is shared with business plans).
CONSUMER_DOMAINS: dict[str, Provider] = {
    **dict.fromkeys(("gmail.com", "googlemail.com"), Provider.GOOGLE),
    **dict.fromkeys(
        ("outlook.com", "hotmail.com", "live.com", "msn.com", "hotmail.co.uk", "outlook.de", "live.ru"),
        Provider.MICROSOFT,
    ),
    **dict.fromkeys(
        ("yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "ymail.com", "rocketmail.com", "aol.com"),
        Provider.YAHOO,
    ),
    **dict.fromkeys(("mail.ru", "inbox.ru", "list.ru", "bk.ru", "internet.ru", "my.com"), Provider.MAILRU),
    **dict.fromkeys(
        ("yandex.ru", "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua", "narod.ru"),
        Provider.YANDEX,
    ),
    **dict.fromkeys(("icloud.com", "me.com", "mac.com"), Provider.ICLOUD),
    **dict.fromkeys(("zoho.com", "zohomail.com", "zohomail.eu"), Provider.ZOHO),
}

# MX host suffix -> provider, most specific first (suffix match on the lowest-preference host).
MX_SUFFIXES: tuple[tuple[str, Provider], ...] = (
    ("gmail-smtp-in.l.google.com", Provider.GOOGLE),
    ("aspmx.l.google.com", Provider.GOOGLE_WORKSPACE),
    ("googlemail.com", Provider.GOOGLE_WORKSPACE),
    ("smtp.google.com", Provider.GOOGLE_WORKSPACE),
    ("google.com", Provider.GOOGLE_WORKSPACE),
    ("olc.protection.outlook.com", Provider.MICROSOFT),
    ("mail.protection.outlook.com", Provider.MICROSOFT_365),
    ("mx.microsoft", Provider.MICROSOFT_365),
    ("yahoodns.net", Provider.YAHOO),
    ("mxs.mail.ru", Provider.MAILRU),
    ("emx.mail.ru", Provider.VK_WORKSPACE),
    ("mx.yandex.ru", Provider.YANDEX),
    ("mx.yandex.net", Provider.YANDEX_360),
    ("yandex.net", Provider.YANDEX_360),
    ("mail.icloud.com", Provider.ICLOUD),
    ("zoho.com", Provider.ZOHO),
    ("zoho.eu", Provider.ZOHO),
    ("zoho.in", Provider.ZOHO),
    ("pphosted.com", Provider.PROOFPOINT),
    ("ppe-hosted.com", Provider.PROOFPOINT),
    ("mimecast.com", Provider.MIMECAST),
    ("mimecast.co.za", Provider.MIMECAST),
)


def _matches(host: str, suffix: str) -> bool:
    return host == suffix or host.endswith("." + suffix)


def provider_for_mx(records: Iterable[tuple[int, str]]) -> Provider:
    """The provider behind a domain's MX records (preference, host): the lowest preference decides."""
    ordered = sorted((pref, host.lower().rstrip(".")) for pref, host in records)
    if not ordered:
        return Provider.OTHER
    host = ordered[0][1]
    for suffix, provider in MX_SUFFIXES:
        if _matches(host, suffix):
            return provider
    return Provider.OTHER


def provider_for_domain(domain: str) -> Provider | None:
    """From the static table alone; None when DNS has to tell."""
    return CONSUMER_DOMAINS.get(domain.lower().rstrip("."))


class ProviderLimits(BaseModel):
    """Per sender identity at one receiving provider."""

    model_config = ConfigDict(frozen=True)

    per_hour: int | None = Field(default=10, ge=1)
    per_day: int | None = Field(default=None, ge=1)
    block_pause_s: float = Field(default=24 * 3600, gt=0, description="how long a sender block pauses")


# Defaults: deliverability.md §8 proposes <= 10 per identity per provider per hour; Russian providers
# and Yahoo answer volume with blocks or multi-hour deferrals (§3.3-§3.5), so they get less.
DEFAULT_PROVIDER_LIMITS: dict[Provider, ProviderLimits] = {
    Provider.GOOGLE: ProviderLimits(per_hour=10, per_day=150),
    Provider.GOOGLE_WORKSPACE: ProviderLimits(per_hour=10, per_day=150),
    Provider.MICROSOFT: ProviderLimits(per_hour=8, per_day=120),
    Provider.MICROSOFT_365: ProviderLimits(per_hour=10, per_day=150),
    Provider.YAHOO: ProviderLimits(per_hour=6, per_day=100, block_pause_s=4 * 3600),
    Provider.MAILRU: ProviderLimits(per_hour=6, per_day=100),
    Provider.VK_WORKSPACE: ProviderLimits(per_hour=6, per_day=100),
    Provider.YANDEX: ProviderLimits(per_hour=6, per_day=100),
    Provider.YANDEX_360: ProviderLimits(per_hour=6, per_day=100),
    Provider.ICLOUD: ProviderLimits(per_hour=8, per_day=120),
    Provider.ZOHO: ProviderLimits(per_hour=8, per_day=120),
    Provider.PROOFPOINT: ProviderLimits(per_hour=10, per_day=150),
    Provider.MIMECAST: ProviderLimits(per_hour=10, per_day=150),
    Provider.OTHER: ProviderLimits(per_hour=10, per_day=None),
}
