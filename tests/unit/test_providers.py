"""Receiving provider by MX: the static table, the suffix table, the resolver adapter (no network)."""

from __future__ import annotations

import dns.resolver
import pytest

from adapters.dns_mx import DnsMxResolver, StaticMxResolver
from outreach_core.policies.providers import Provider, provider_for_mx
from outreach_core.services.providers import ProviderDirectory


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("gmail-smtp-in.l.google.com", Provider.GOOGLE),
        ("alt2.gmail-smtp-in.l.google.com.", Provider.GOOGLE),
        ("aspmx.l.google.com", Provider.GOOGLE_WORKSPACE),
        ("alt1.aspmx.l.google.com", Provider.GOOGLE_WORKSPACE),
        ("smtp.google.com", Provider.GOOGLE_WORKSPACE),
        ("aspmx2.googlemail.com", Provider.GOOGLE_WORKSPACE),
        ("hotmail-com.olc.protection.outlook.com", Provider.MICROSOFT),
        ("contoso-com.mail.protection.outlook.com", Provider.MICROSOFT_365),
        ("contoso-com.o-v1.mx.microsoft", Provider.MICROSOFT_365),
        ("mta5.am0.yahoodns.net", Provider.YAHOO),
        ("mx-aol.mail.gm0.yahoodns.net", Provider.YAHOO),
        ("mxs.mail.ru", Provider.MAILRU),
        ("emx.mail.ru", Provider.VK_WORKSPACE),
        ("mx.yandex.ru", Provider.YANDEX),
        ("mx.yandex.net", Provider.YANDEX_360),
        ("mx01.mail.icloud.com", Provider.ICLOUD),
        ("mx.zoho.eu", Provider.ZOHO),
        ("mx0a-001b2d01.pphosted.com", Provider.PROOFPOINT),
        ("eu-smtp-inbound-1.mimecast.com", Provider.MIMECAST),
        ("mail.self-hosted.example", Provider.OTHER),
        ("notgoogle.com", Provider.OTHER),
    ],
)
def test_mx_suffix_table(host: str, provider: Provider) -> None:
    assert provider_for_mx([(10, host)]) is provider


def test_lowest_preference_decides() -> None:
    records = [(20, "backup.mimecast.com"), (5, "aspmx.l.google.com")]
    assert provider_for_mx(records) is Provider.GOOGLE_WORKSPACE
    assert provider_for_mx([]) is Provider.OTHER


class CountingResolver:
    def __init__(self, table: dict[str, str]) -> None:
        self.inner = StaticMxResolver(table)
        self.calls: list[str] = []

    def mx(self, domain: str) -> list[tuple[int, str]]:
        self.calls.append(domain)
        return self.inner.mx(domain)


def test_directory_uses_the_static_table_first_and_remembers() -> None:
    resolver = CountingResolver({"acme.com": "acme-com.mail.protection.outlook.com"})
    directory = ProviderDirectory(resolver)
    assert directory.provider("Gmail.com") is Provider.GOOGLE
    assert directory.provider("bk.ru") is Provider.MAILRU
    assert resolver.calls == []  # consumer domains need no DNS
    assert directory.provider("acme.com") is Provider.MICROSOFT_365
    assert directory.provider("acme.com") is Provider.MICROSOFT_365
    assert directory.provider("unknown.example") is Provider.OTHER
    assert resolver.calls == ["acme.com", "unknown.example"]


class _Rdata:
    def __init__(self, preference: int, exchange: str) -> None:
        self.preference = preference
        self.exchange = exchange


class FakeDns:
    """Stands in for dns.resolver.Resolver: answers from a table, raises as dnspython does."""

    def __init__(self) -> None:
        self.queries = 0

    def resolve(self, name: str, rdtype: str, lifetime: float) -> list[_Rdata]:
        self.queries += 1
        if name == "nxdomain.example":
            raise dns.resolver.NXDOMAIN
        if name == "timeout.example":
            raise dns.resolver.LifetimeTimeout
        if name == "nullmx.example":
            return [_Rdata(0, ".")]
        return [_Rdata(20, "ALT1.ASPMX.L.GOOGLE.COM."), _Rdata(10, "aspmx.l.google.com.")]


def test_dns_adapter_parses_caches_and_survives_failures() -> None:
    fake = FakeDns()
    resolver = DnsMxResolver(resolver=fake)  # type: ignore[arg-type]
    assert resolver.mx("corp.example") == [(20, "alt1.aspmx.l.google.com"), (10, "aspmx.l.google.com")]
    assert resolver.mx("CORP.example.") == [(20, "alt1.aspmx.l.google.com"), (10, "aspmx.l.google.com")]
    assert fake.queries == 1  # cached
    assert resolver.mx("nxdomain.example") == []
    assert resolver.mx("timeout.example") == []
    assert resolver.mx("nullmx.example") == []
    assert ProviderDirectory(resolver).provider("corp.example") is Provider.GOOGLE_WORKSPACE
