"""List hygiene's rules, one by one (policies.hygiene): the pure decisions the import and the planner
share. tests/integration/test_list_hygiene.py runs them against a real DNS server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from outreach_core.policies.hygiene import (
    HygienePolicy,
    RolePolicy,
    SkipCode,
    TypoPolicy,
    assess,
    typo_of,
)
from outreach_core.ports import MailRoute, RouteStatus

DISPOSABLE = frozenset({"mailinator.com", "guerrillamail.com"})


def route(domain: str, status: RouteStatus) -> MailRoute:
    return MailRoute(domain=domain, status=status)


@pytest.mark.parametrize(
    ("domain", "suggestion"),
    [
        ("gmial.com", "gmail.com"),  # two letters swapped
        ("gmai.com", "gmail.com"),  # one missing
        ("gmaill.com", "gmail.com"),  # one extra
        ("gmail.con", "gmail.com"),  # one wrong
        ("hotmial.com", "hotmail.com"),
        ("yahooo.com", "yahoo.com"),
        ("outlok.com", "outlook.com"),
        ("yandx.ru", "yandex.ru"),
        ("icloud.co", "icloud.com"),
    ],
)
def test_likely_typos_of_big_domains_are_suggested(domain: str, suggestion: str) -> None:
    assert typo_of(domain) == suggestion


@pytest.mark.parametrize(
    "domain", ["gmail.com", "ymail.com", "mail.com", "gmx.com", "me.com", "acme-corp.com"]
)
def test_real_domains_one_edit_away_are_not_typos(domain: str) -> None:
    assert typo_of(domain) is None


def test_dead_domains_are_skipped_and_an_unknown_lookup_never_is() -> None:
    dead = {
        RouteStatus.NO_DOMAIN: SkipCode.NO_DOMAIN,
        RouteStatus.NULL_MX: SkipCode.NULL_MX,
        RouteStatus.NO_MAIL: SkipCode.NO_MAIL,
    }
    for status, code in dead.items():
        assert assess("a@corp.example", route("corp.example", status), disposable=DISPOSABLE).skip is code
    for status in (RouteStatus.MX, RouteStatus.ADDRESS, RouteStatus.UNKNOWN):
        assert assess("a@corp.example", route("corp.example", status), disposable=DISPOSABLE).ok


def test_a_dead_typo_domain_says_what_was_meant() -> None:
    verdict = assess("ann@gmai.com", route("gmai.com", RouteStatus.NO_DOMAIN), disposable=DISPOSABLE)
    assert verdict.skip is SkipCode.NO_DOMAIN and "did you mean ann@gmail.com?" in verdict.reason


def test_disposable_domains_and_their_subdomains_are_skipped() -> None:
    assert assess("a@mailinator.com", None, disposable=DISPOSABLE).skip is SkipCode.DISPOSABLE
    assert assess("a@x.guerrillamail.com", None, disposable=DISPOSABLE).skip is SkipCode.DISPOSABLE


def test_role_accounts_follow_the_tenant_policy_and_unattended_mailboxes_are_never_sent_to() -> None:
    allow, flag, skip = (HygienePolicy(role_accounts=p) for p in RolePolicy)
    assert assess("info@corp.example", None, disposable=(), policy=allow) == assess(
        "ann@corp.example", None, disposable=()
    )
    flagged = assess("Sales+eu@corp.example", None, disposable=(), policy=flag)
    assert flagged.ok and flagged.flags == ("role account (sales@)",)
    assert assess("info@corp.example", None, disposable=(), policy=skip).skip is SkipCode.ROLE
    for policy in (allow, flag, skip):
        assert (
            assess("postmaster@corp.example", None, disposable=(), policy=policy).skip is SkipCode.NEVER_READ
        )


def test_the_ses_mailbox_simulator_is_a_test_address_not_an_unattended_mailbox() -> None:
    for local in ("bounce", "complaint+nw7", "success", "ooto+x"):
        verdict = assess(f"{local}@simulator.amazonses.com", None, disposable=DISPOSABLE)
        assert verdict.ok and verdict.flags == ("SES mailbox simulator (a test address)",)
    assert assess("bounce@corp.example", None, disposable=()).skip is SkipCode.NEVER_READ
    assert (
        assess("bounce@simulator.amazonses.com", None, disposable=(), do_not_contact="amazonses.com").skip
        is SkipCode.DO_NOT_CONTACT
    )


def test_typo_policy_flag_sends_and_says_so() -> None:
    flag = HygienePolicy(typo_domains=TypoPolicy.FLAG)
    verdict = assess("zed@outlok.com", None, disposable=(), policy=flag)
    assert verdict.ok and verdict.flags == ("likely typo of outlook.com: did you mean zed@outlook.com?",)
    assert assess("zed@outlok.com", None, disposable=()).skip is SkipCode.TYPO


def test_a_do_not_contact_domain_comes_first() -> None:
    verdict = assess(
        "a@mailinator.com", None, disposable=DISPOSABLE, do_not_contact="mailinator.com (competitor)"
    )
    assert verdict.skip is SkipCode.DO_NOT_CONTACT and "competitor" in verdict.reason


@given(
    st.from_regex(r"[a-z][a-z0-9]{2,12}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9-]{3,15}\.(com|net|io|de)", fullmatch=True),
)
def test_no_lookup_or_a_failed_one_never_skips_an_ordinary_address(local: str, domain: str) -> None:
    if typo_of(domain):
        return
    for looked_up in (None, route(domain, RouteStatus.UNKNOWN)):
        verdict = assess(f"x{local}@{domain}", looked_up, disposable=DISPOSABLE)
        assert verdict.ok, verdict.reason
