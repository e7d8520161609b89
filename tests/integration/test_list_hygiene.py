"""List hygiene against a real DNS server on 127.0.0.1 (dnslib): the real DnsMxResolver, the real
container, a campaign whose list holds dead and disposable domains; and do-not-contact domains."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from adapters.dns_mx import DnsMxResolver, make_resolver
from adapters.html_report import render_report
from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.ports import RouteStatus
from outreach_core.services.reporting import ReportService
from tests.dns_server import Zone, dns_server
from tests.harness import Harness, harness, seed_tenant

ZONE = """
live-corp.example.    300 IN MX 10 mx1.live-corp.example.
live-corp.example.    300 IN MX 20 mx2.live-corp.example.
mx1.live-corp.example. 300 IN A 192.0.2.10
a-only.example.       300 IN A 192.0.2.20
null-mx.example.      300 IN MX 0 .
txt-only.example.     300 IN TXT "v=spf1 -all"
m365-corp.example.    300 IN MX 0 m365-corp-example.mail.protection.outlook.com.
"""


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Zone, str]]:
    zone = Zone(ZONE)
    with dns_server(zone) as address:
        yield zone, address


@pytest.fixture
def zone(server: tuple[Zone, str]) -> Iterator[tuple[Zone, str]]:
    yield server
    server[0].load(ZONE)  # a test may change the zone: the next one starts from the original


def test_the_dns_adapter_tells_each_kind_of_domain_and_caches(zone: tuple[Zone, str]) -> None:
    _served, address = zone
    resolver = DnsMxResolver(resolver=make_resolver(address))
    expected = {
        "live-corp.example": RouteStatus.MX,
        "a-only.example": RouteStatus.ADDRESS,
        "null-mx.example": RouteStatus.NULL_MX,
        "txt-only.example": RouteStatus.NO_MAIL,
        "gone-corp.example": RouteStatus.NO_DOMAIN,
    }
    assert {d: resolver.route(d).status for d in expected} == expected
    assert resolver.mx("LIVE-CORP.example.") == [(10, "mx1.live-corp.example"), (20, "mx2.live-corp.example")]
    assert resolver.mx("null-mx.example") == []
    lookups = resolver.lookups
    resolver.route("live-corp.example")
    assert resolver.lookups == lookups  # cached per domain
    unreachable = DnsMxResolver(resolver=make_resolver("127.0.0.1:9"), lifetime_s=0.5)
    assert unreachable.route("live-corp.example").status is RouteStatus.UNKNOWN  # never a reason to skip


def world(tmp_path: Path, address: str) -> Harness:
    return harness(tmp_path, mx_resolver="dns", dns_nameservers=address)


def test_a_list_with_ten_percent_dead_or_disposable_domains_sends_none_of_them(
    zone: tuple[Zone, str], tmp_path: Path
) -> None:
    _served, address = zone
    h = world(tmp_path, address)
    good = [f"lead{n}@live-corp.example" for n in range(14)] + [f"buyer{n}@a-only.example" for n in range(13)]
    bad = {
        "ann@gone-corp.example": "no_such_domain",
        "bob@null-mx.example": "null_mx",
        "cat@mailinator.com": "disposable",
    }
    seed_tenant(h, leads=[], steps=1, start=False)
    rows = "email\n" + "".join(f"{e}\n" for e in [*good[:5], *bad, *good[5:]])
    report = h.leads.import_csv("acme", rows.encode())
    assert report.imported == 27 and [p.email for p in report.skipped] == list(bad)
    assert [p.line for p in report.skipped] == [7, 8, 9]
    h.admin.start_campaign("acme", "spring")
    h.tick_and_send(minutes=60)
    sent = Counter(e.recipient.email for e in h.mailer.sent)
    assert set(sent) == set(good) and all(n == 1 for n in sent.values())
    skipped = {lead.email: lead for lead in h.records.all(Lead, "acme") if lead.status is LeadStatus.SKIPPED}
    assert {e: lead.skip_code for e, lead in skipped.items()} == bad
    assert "gone-corp.example does not exist" in skipped["ann@gone-corp.example"].status_reason
    assert "null MX" in skipped["bob@null-mx.example"].status_reason
    assert "disposable" in skipped["cat@mailinator.com"].status_reason
    status = h.app.services.status().report("acme")
    assert {(r.code, r.count) for r in status.skipped} == {(code, 1) for code in bad.values()}
    assert status.campaigns[0].skipped == 3
    html = render_report(ReportService(h.records, h.clock).build())  # `outreach report`
    assert "3 leads skipped by list hygiene" in html
    assert all(email in html for email in bad) and "gone-corp.example does not exist" in html


def test_the_import_report_says_what_was_skipped_and_why(zone: tuple[Zone, str], tmp_path: Path) -> None:
    _, address = zone
    h = world(tmp_path, address)
    seed_tenant(h, leads=["ok@live-corp.example"], steps=1)
    rows = (
        "email\nann@gone-corp.example\nInfo@live-corp.example\npostmaster@live-corp.example\nzed@gmai.com\n"
    )
    report = h.leads.import_csv("acme", rows.encode())
    assert report.imported == 1 and report.enrolled == 1  # info@: flagged, sent to (the default policy)
    assert [(p.line, p.email) for p in report.skipped] == [
        (2, "ann@gone-corp.example"),
        (4, "postmaster@live-corp.example"),
        (5, "zed@gmai.com"),
    ]
    assert "did you mean zed@gmail.com?" in report.skipped[2].reason
    assert [(p.line, p.reason) for p in report.flagged] == [(3, "role account (info@)")]


def test_a_domain_that_died_after_the_import_is_skipped_just_before_step_one(
    zone: tuple[Zone, str], tmp_path: Path
) -> None:
    served, address = zone
    h = world(tmp_path, address)
    seed_tenant(h, leads=["ann@m365-corp.example", "bob@live-corp.example"], steps=1, start=False)
    served.load(
        ZONE.replace("m365-corp.example.    300 IN MX 0 m365-corp-example.mail.protection.outlook.com.", "")
    )
    h.app.adapters.mx_resolver()._cache.clear()  # the day the domain lapsed, past the cached answer
    h.admin.start_campaign("acme", "spring")
    assert h.tick_and_send() == ["sent"]
    assert [e.recipient.email for e in h.mailer.sent] == ["bob@live-corp.example"]
    lead = next(lead for lead in h.records.all(Lead, "acme") if lead.email == "ann@m365-corp.example")
    assert lead.status is LeadStatus.SKIPPED and lead.skip_code == "no_such_domain"


def test_a_do_not_contact_domain_stops_sends_for_that_tenant_only(tmp_path: Path) -> None:
    h = harness(tmp_path)
    leads = ["ann@rival.example", "bob@eu.rival.example", "cat@friend.example"]
    seed_tenant(h, tenant="acme", leads=leads, steps=1)
    seed_tenant(h, tenant="globex", leads=leads, steps=1)
    h.planner.tick()  # queued before the entry: still stopped at send time
    suppression = h.app.services.suppression()
    assert suppression.add_domain("acme", "Rival.Example", reason="competitor", at=h.clock.now(), actor="op")
    assert not suppression.add_domain(
        "acme", "rival.example", reason="competitor", at=h.clock.now(), actor="op"
    )
    outcomes = h.tick_and_send()
    sent = sorted((e.sender.email.split("@")[1], e.recipient.email) for e in h.mailer.sent)
    assert sent == [
        ("acme-mail.com", "cat@friend.example"),
        *(("globex-mail.com", e) for e in sorted(leads)),
    ]
    assert outcomes.count("suppressed") == 2
    reasons = {j.status_reason for j in h.records.jobs("acme") if j.status.value == "suppressed"}
    assert reasons == {"do-not-contact domain: rival.example (competitor)"}
    # A new import of the tenant skips the domain too, with the reason.
    report = h.leads.import_csv("acme", b"email\ndan@rival.example\n")
    assert report.skipped[0].reason == "do-not-contact domain for this tenant: rival.example (competitor)"
    assert suppression.remove_domain(
        "acme", "rival.example", at=h.clock.now(), actor="op", reason="deal lost"
    )
    assert h.records.domain_block_for("acme", "eu.rival.example") is None
