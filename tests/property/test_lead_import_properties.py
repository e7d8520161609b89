"""The lead import's short cuts decide nothing differently: a lead's document built from its row is
the document of the Lead model (and the same after list hygiene), and list hygiene with its per-domain
memo gives every address the verdict of the rules worked out from scratch."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from adapters.dns_mx import StaticMxResolver
from outreach_core.domain.models import LawfulBasis, Lead
from outreach_core.domain.suppression import DomainBlock
from outreach_core.policies.hygiene import (
    HygienePolicy,
    HygieneVerdict,
    RolePolicy,
    SkipCode,
    TypoPolicy,
    assess,
    disposable_domain,
)
from outreach_core.policies.providers import CONSUMER_DOMAINS
from outreach_core.records import Records
from outreach_core.services.hygiene import ListHygiene
from outreach_core.services.lead_documents import LeadDocuments, apply_verdict
from tests.fakes import InMemoryStateStore

FAST = settings(max_examples=80, deadline=None)
NOW = datetime(2026, 1, 5, 9, tzinfo=UTC)

text = st.text(max_size=12)
slugs = st.sampled_from(["acme", "default", "list-2", "Not A Slug", "", "-x"])
bases = st.one_of(st.sampled_from(list(LawfulBasis)), st.sampled_from([b.value for b in LawfulBasis]), text)
moments = st.sampled_from(
    [NOW, NOW + timedelta(microseconds=120), datetime(2026, 3, 1, 8, tzinfo=timezone(timedelta(hours=2)))]
)


def _fields(lead_id: str, email: str, custom: dict[str, str], row: list[str], zone: str | None) -> dict:
    first, last, company, title, country, source, _ = (row + [""] * 7)[:7]
    return {
        "lead_id": lead_id,
        "email": email,
        "first_name": first,
        "last_name": last,
        "company": company,
        "title": title,
        "timezone": zone,
        "country": country,
        "custom": custom,
        "source": source,
    }


@FAST
@given(
    tenant=slugs,
    list_name=slugs,
    at=moments,
    lead_id=text,
    email=text,
    custom=st.dictionaries(text, text, max_size=3),
    row=st.lists(text, max_size=7),
    zone=st.one_of(st.none(), st.sampled_from(["Europe/Berlin", "UTC"])),
    basis=bases,
)
def test_a_document_built_from_the_row_is_the_lead_models_document(
    tenant: str,
    list_name: str,
    at: datetime,
    lead_id: str,
    email: str,
    custom: dict[str, str],
    row: list[str],
    zone: str | None,
    basis: LawfulBasis | str,
) -> None:
    fields = _fields(lead_id, email, custom, row, zone)
    model_fields = {("id" if k == "lead_id" else k): v for k, v in fields.items()}
    try:
        lead = Lead(tenant_id=tenant, list_name=list_name, imported_at=at, lawful_basis=basis, **model_fields)
    except ValidationError as expected:
        try:
            LeadDocuments(tenant, list_name, at).document(lawful_basis=basis, **fields)
        except ValidationError as got:
            assert got.errors() == expected.errors()  # the same words in the import report
        else:
            raise AssertionError("a row the model refuses was taken")
        return
    document = LeadDocuments(tenant, list_name, at).document(lawful_basis=basis, **fields)
    assert json.dumps(document) == json.dumps(lead.model_dump(mode="json"))  # same keys, same order
    assert Lead.model_validate(document) == lead


verdicts = st.builds(
    HygieneVerdict,
    skip=st.one_of(st.none(), st.sampled_from(list(SkipCode))),
    reason=text,
    flags=st.lists(text, max_size=2).map(tuple),
)


@FAST
@given(verdict=verdicts)
def test_a_documents_hygiene_outcome_is_the_models(verdict: HygieneVerdict) -> None:
    hygiene = ListHygiene(Records(InMemoryStateStore()))
    lead = Lead(tenant_id="acme", id="l-1", email="a@corp.example", source="csv import", imported_at=NOW)
    fields = {**_fields("l-1", "a@corp.example", {}, [], None), "source": "csv import"}
    document = LeadDocuments("acme", "default", NOW).document(
        lawful_basis=LawfulBasis.LEGITIMATE_INTEREST, **fields
    )
    apply_verdict(document, verdict)
    assert json.dumps(document) == json.dumps(hygiene.skip(lead, verdict).model_dump(mode="json"))


# A small world of domains where every rule has something to say: disposable ones and their
# subdomains, big consumer domains and typos of them, dead ones, do-not-contact ones and their
# subdomains, the SES mailbox simulator, in any case.
DISPOSABLE = frozenset({"mailinator.com", "guerrillamail.com"})
DEAD = {"dead.example": StaticMxResolver.NO_DOMAIN, "nullmx.example": StaticMxResolver.NULL_MX}
BLOCKED = ("rival.example", "sub.partner.example")
DOMAINS = [
    "corp.example",
    "a.corp.example",
    "mailinator.com",
    "x.mailinator.com",
    "gmail.com",
    "gmial.com",
    "hotmial.com",
    "dead.example",
    "gmai.com",
    "nullmx.example",
    "rival.example",
    "eu.rival.example",
    "partner.example",
    "sub.partner.example",
    "simulator.amazonses.com",
]
LOCALS = ["ann", "info", "Sales+eu", "postmaster", "bounce", "no-reply", "zed"]
addresses = st.builds(
    lambda local, domain, upper: f"{local}@{domain.upper() if upper else domain}",
    st.sampled_from(LOCALS),
    st.sampled_from(DOMAINS),
    st.booleans(),
)
policies = st.builds(
    HygienePolicy, role_accounts=st.sampled_from(RolePolicy), typo_domains=st.sampled_from(TypoPolicy)
)

_store = InMemoryStateStore()
_records = Records(_store)
for _domain in BLOCKED:
    _store.write(_records.domain_block_put(DomainBlock(tenant_id="acme", domain=_domain, created_at=NOW)))
_resolver = StaticMxResolver(DEAD)
_MEMOISED = ListHygiene(_records, _resolver, DISPOSABLE)  # one for every example: its memo stays warm


def _from_scratch(email: str, policy: HygienePolicy) -> HygieneVerdict:
    """The rules as they ran before the memo: every fact looked up again for every address."""
    domain = email.rsplit("@", 1)[-1].lower()
    block = _records.domain_block_for("acme", domain)
    known = domain in CONSUMER_DOMAINS or disposable_domain(domain, DISPOSABLE)
    route = _resolver.route(domain) if block is None and not known else None
    return assess(
        email,
        route,
        disposable=DISPOSABLE,
        do_not_contact=f"{block.domain} ({block.reason})" if block else "",
        policy=policy,
    )


@FAST
@given(emails=st.lists(addresses, max_size=30), policy=policies)
def test_memoised_hygiene_gives_every_address_the_verdict_worked_out_from_scratch(
    emails: list[str], policy: HygienePolicy
) -> None:
    with _records.read_ahead():  # as the import runs it: a chunk's entries read ahead
        _records.prefetch([k for e in emails for k in _records.domain_block_keys("acme", e.rsplit("@")[-1])])
        memoised = [_MEMOISED.check("acme", email, policy) for email in emails]
    assert memoised == [_from_scratch(email, policy) for email in emails]
