"""List hygiene: which addresses are never sent to at all, decided before the first send.

Checked at import and again just before step 1 (a domain can die, a list can be updated, a tenant can
add a do-not-contact domain in between). In order: the tenant's do-not-contact domains; whether the
domain accepts mail (MX, or an A record; a null MX (RFC 7505) or a name that does not exist means
no; a failed lookup is never a reason); disposable-address domains (a maintained list, from the
`disposable-email-domains` package); role accounts (the tenant's policy: allow, flag or skip); likely
typos of the big consumer domains (suggested, never fixed). Skipped leads are kept with their reason,
so the import report and `outreach status` show what was skipped and why (deliverability.md §6).
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from dataclasses import dataclass, replace
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from outreach_core.policies.providers import CONSUMER_DOMAINS
from outreach_core.ports import MailRoute, RouteStatus


class RolePolicy(StrEnum):
    ALLOW = "allow"  # send as to anyone
    FLAG = "flag"  # send, and show them as role accounts in the import report and status
    SKIP = "skip"  # never send


class TypoPolicy(StrEnum):
    FLAG = "flag"
    SKIP = "skip"


class HygienePolicy(BaseModel):
    """A tenant's list-hygiene choices (its `POLICY` document's `hygiene`); the rest is not optional."""

    model_config = ConfigDict(frozen=True)

    role_accounts: RolePolicy = RolePolicy.FLAG  # B2B lists often hold info@ of small firms
    typo_domains: TypoPolicy = TypoPolicy.SKIP  # typo domains are traps or dead; fix the row instead


class SkipCode(StrEnum):
    DO_NOT_CONTACT = "do_not_contact"
    NO_DOMAIN = "no_such_domain"
    NULL_MX = "null_mx"
    NO_MAIL = "no_mail_servers"
    DISPOSABLE = "disposable"
    ROLE = "role_account"
    NEVER_READ = "unattended_mailbox"
    TYPO = "typo_domain"


# RFC 2142's reserved mailboxes and the usual shared inboxes (deliverability.md §6).
ROLE_ACCOUNTS = frozenset(
    {
        "info", "sales", "support", "marketing", "office", "admin", "administrator", "contact", "hello",
        "hr", "jobs", "careers", "billing", "accounts", "accounting", "finance", "help", "team",
        "enquiries", "inquiries", "press", "media", "webmaster", "hostmaster", "security", "noc",
        "ftp", "www", "uucp", "usenet", "news", "legal", "privacy", "compliance", "orders", "service",
    }
)  # fmt: skip
# Nobody reads these, and writing to abuse@ or postmaster@ invites a complaint: never sent to,
# whatever the tenant's role-account policy.
NEVER_READ = frozenset(
    {
        "postmaster", "abuse", "noreply", "no-reply", "no_reply", "donotreply", "do-not-reply",
        "mailer-daemon", "bounce", "bounces", "spam", "root", "nobody",
    }
)  # fmt: skip
# Amazon SES's mailbox simulator: test addresses (bounce@, complaint@, ooto@, success@, each with any
# +label) that SES answers with that outcome, never a person. Sending to them is how an operator tests
# the bounce and complaint paths on a real account, so no rule about real mailboxes applies to them.
SES_MAILBOX_SIMULATOR = "simulator.amazonses.com"
# Real domains one edit away from a big one: never "typos" (mail.com vs gmail.com, ymail.com...).
_REAL_LOOKALIKES = frozenset(
    {
        "mail.com", "gmx.com", "gmx.net", "gmx.de", "ymail.com", "email.com", "hotmail.fr", "hotmail.de",
        "hotmail.it", "hotmail.es", "live.fr", "live.de", "live.co.uk", "outlook.fr", "yahoo.es",
        "yahoo.it", "yahoo.ca", "yahoo.in", "aol.de", "web.de", "mac.com", "me.com", "qq.com", "proton.me",
        "ya.ru", "bk.ru", "list.ru", "mail.ua", "gmail.co.uk",
    }
)  # fmt: skip
_BIG = tuple(sorted(CONSUMER_DOMAINS))


@dataclass(frozen=True)
class HygieneVerdict:
    skip: SkipCode | None = None
    reason: str = ""  # one line: what and why (shown in the import report and status)
    flags: tuple[str, ...] = ()  # sent, but worth a look: "role account", "likely typo of gmail.com"

    @property
    def ok(self) -> bool:
        return self.skip is None


def local_part(email: str) -> str:
    """The mailbox name without a +tag, lower-cased."""
    return email.rsplit("@", 1)[0].split("+", 1)[0].lower()


def _one_edit(a: str, b: str) -> bool:
    """One insertion, deletion, substitution or swap of neighbours apart (Damerau-Levenshtein 1)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diffs = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        if len(diffs) == 1:
            return True
        i, j = diffs[0], diffs[-1]
        return len(diffs) == 2 and j == i + 1 and a[i] == b[j] and a[j] == b[i]
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def typo_of(domain: str) -> str | None:
    """The big consumer domain this one is likely a typo of (gmial.com -> gmail.com), or None."""
    return _typo_of(domain.lower().rstrip("."))


@functools.lru_cache(maxsize=65_536)  # a pure function of the domain; lists repeat their domains a lot
def _typo_of(domain: str) -> str | None:
    if domain in CONSUMER_DOMAINS or domain in _REAL_LOOKALIKES or len(domain) < 6:
        return None
    return next((big for big in _BIG if _one_edit(domain, big)), None)


def disposable_domain(domain: str, listed: Collection[str]) -> str | None:
    """`domain` or the nearest parent domain of it that is in the disposable list (`listed`)."""
    labels = domain.lower().rstrip(".").split(".")
    for i in range(len(labels) - 1):
        candidate = ".".join(labels[i:])
        if candidate in listed:
            return candidate
    return None


@dataclass(frozen=True)
class DomainTraits:
    """What the rules read from the domain alone (not its DNS, not the tenant): the same for every
    address at it, so a caller checking many addresses may work it out once per domain."""

    domain: str  # lower-cased
    disposable: str | None  # the domain, or the parent of it, on the disposable list
    typo_of: str | None  # the big consumer domain it is likely a typo of


def domain_traits(domain: str, disposable: Collection[str]) -> DomainTraits:
    domain = domain.lower()
    return DomainTraits(domain, disposable_domain(domain, disposable), typo_of(domain))


def assess(
    email: str,
    route: MailRoute | None,
    *,
    disposable: Collection[str],
    do_not_contact: str = "",
    policy: HygienePolicy | None = None,
    traits: DomainTraits | None = None,
) -> HygieneVerdict:
    """One address against the rules, in the order the module docstring gives. `route` None: not looked
    up. `traits`: domain_traits(the address's domain, disposable), when the caller has it already."""
    policy = policy or HygienePolicy()
    at = email.rsplit("@", 1)
    if traits is None:
        traits = domain_traits(at[-1], disposable)
    domain = traits.domain
    local = local_part(email)
    if do_not_contact:
        return HygieneVerdict(
            SkipCode.DO_NOT_CONTACT, f"do-not-contact domain for this tenant: {do_not_contact}"
        )
    if domain == SES_MAILBOX_SIMULATOR:
        return HygieneVerdict(flags=("SES mailbox simulator (a test address)",))
    listed = traits.disposable
    if listed:
        return HygieneVerdict(SkipCode.DISPOSABLE, f"disposable-address domain ({listed})")
    suggestion = traits.typo_of
    hint = f"likely typo of {suggestion}: did you mean {at[0]}@{suggestion}?" if suggestion else ""
    if route is not None and route.status.accepts_mail is False:
        dead = _dead(domain, route.status)
        return replace(dead, reason=f"{dead.reason}; {hint}") if suggestion else dead
    if local in NEVER_READ:
        return HygieneVerdict(SkipCode.NEVER_READ, f"{local}@ is an unattended mailbox: never sent to")
    flags: list[str] = []
    if local in ROLE_ACCOUNTS and policy.role_accounts is not RolePolicy.ALLOW:
        if policy.role_accounts is RolePolicy.SKIP:
            return HygieneVerdict(SkipCode.ROLE, f"role account ({local}@): the tenant's policy skips them")
        flags.append(f"role account ({local}@)")
    if suggestion:
        if policy.typo_domains is TypoPolicy.SKIP:
            return HygieneVerdict(SkipCode.TYPO, hint, tuple(flags))
        flags.append(hint)
    return HygieneVerdict(flags=tuple(flags)) if flags else _CLEAN


_CLEAN = HygieneVerdict()  # most addresses: one frozen verdict for all of them


def _dead(domain: str, status: RouteStatus) -> HygieneVerdict:
    if status is RouteStatus.NO_DOMAIN:
        return HygieneVerdict(SkipCode.NO_DOMAIN, f"{domain} does not exist (NXDOMAIN)")
    if status is RouteStatus.NULL_MX:
        return HygieneVerdict(SkipCode.NULL_MX, f"{domain} accepts no mail (null MX, RFC 7505)")
    return HygieneVerdict(SkipCode.NO_MAIL, f"{domain} has no MX and no address record")
