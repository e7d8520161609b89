"""Sending-domain health: is a domain set up to send (SPF, DKIM, DMARC, MAIL FROM)? One line each.

Gmail and Yahoo require SPF and DKIM and a DMARC record of bulk senders since February 2024, and
Outlook.com rejects unauthenticated high-volume mail (550 5.7.515) since May 2025 (deliverability.md
§1). What is expected depends on how mail goes out: through SES, the MAIL FROM is a subdomain
(bounce-<region>.<domain>) whose MX is SES's feedback endpoint and whose SPF includes amazonses.com;
through an SMTP relay, the MAIL FROM is the sender's own domain and its SPF authorises the relay.
A failing SPF, DKIM or DMARC blocks `campaign start` unless an operator overrides it (audited).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from outreach_core.ports import DkimFacts, DomainFacts, SpfFacts

MIN_DKIM_BITS = 1024  # Gmail and Yahoo: at least 1024-bit keys (2048 recommended)


class Expectations(BaseModel):
    model_config = ConfigDict(frozen=True)

    route: str = "ses"  # ses | smtp
    spf_include: str = "amazonses.com"  # what the MAIL FROM's SPF must authorise ("" = anything valid)
    mail_from_mx: str = ""  # the MX the MAIL FROM domain must have (SES's feedback endpoint), "" = none


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    NOT_CHECKED = "not checked"


@dataclass(frozen=True)
class CheckLine:
    name: str  # SPF | DKIM | DMARC | MAIL FROM
    status: Status
    message: str

    def __str__(self) -> str:
        return f"{self.name:<9} {self.status.value:<11} {self.message}"


@dataclass(frozen=True)
class DomainReport:
    domain: str
    lines: tuple[CheckLine, ...]

    @property
    def failing(self) -> tuple[CheckLine, ...]:
        return tuple(line for line in self.lines if line.status is Status.FAIL)

    @property
    def blocks(self) -> bool:
        """SPF, DKIM or DMARC failing: a campaign must not start from this domain."""
        return any(line.name in ("SPF", "DKIM", "DMARC") for line in self.failing)


def assess(facts: DomainFacts, expect: Expectations) -> DomainReport:
    if not facts.checked:
        reason = facts.not_checked or "not checked"
        names = ("SPF", "DKIM", "DMARC", "MAIL FROM")
        return DomainReport(facts.domain, tuple(CheckLine(n, Status.NOT_CHECKED, reason) for n in names))
    return DomainReport(
        facts.domain,
        (
            _spf(facts, expect),
            _dkim(facts),
            _dmarc(facts),
            _mail_from(facts, expect),
        ),
    )


def _aligned(mail_from: str, domain: str) -> bool:
    return mail_from == domain or mail_from.endswith("." + domain) or domain.endswith("." + mail_from)


def _spf(facts: DomainFacts, expect: Expectations) -> CheckLine:
    spf = facts.spf or SpfFacts(domain=facts.mail_from or facts.domain)
    if spf.record is None:
        return CheckLine("SPF", Status.FAIL, f"no SPF record at {spf.domain}")
    if spf.error:
        return CheckLine("SPF", Status.FAIL, f"SPF at {spf.domain} is broken: {spf.error} ({spf.record})")
    if spf.all == "pass":
        return CheckLine("SPF", Status.FAIL, f"SPF at {spf.domain} ends in +all: it authorises anyone")
    include = expect.spf_include
    if include and not any(t == include or t.endswith("." + include) for t in spf.authorised):
        return CheckLine(
            "SPF", Status.FAIL, f"SPF at {spf.domain} does not authorise {include} ({spf.record})"
        )
    what = f"authorises {include}" if include else "is valid"
    if not _aligned(spf.domain, facts.domain):
        return CheckLine(
            "SPF", Status.WARN, f"{spf.domain} {what}, but is not under {facts.domain}: SPF does not align"
        )
    return CheckLine("SPF", Status.OK, f"{spf.domain} {what}, aligned with {facts.domain} ({spf.record})")


def _dkim_problem(key: DkimFacts) -> str:
    where = f"{key.selector}._domainkey"
    if key.record is None:
        return f"{where}: no key record" + (f" ({key.error})" if key.error else "")
    if key.error:
        return f"{where}: {key.error}"
    if key.key_bits == 0:
        return f"{where}: no usable key (empty p=, revoked)"
    if key.key_type == "rsa" and key.key_bits < MIN_DKIM_BITS:
        return f"{where}: {key.key_bits}-bit key, under {MIN_DKIM_BITS}"
    return ""


def _dkim(facts: DomainFacts) -> CheckLine:
    if not facts.dkim:
        return CheckLine(
            "DKIM",
            Status.FAIL,
            f"no DKIM selector known for {facts.domain}: give them once with "
            f"`outreach domain check {facts.domain} --selector <s>` (SES Easy DKIM: its three tokens)",
        )
    problems = [p for p in (_dkim_problem(k) for k in facts.dkim) if p]
    if problems:
        return CheckLine("DKIM", Status.FAIL, f"{facts.domain}: " + "; ".join(problems))
    keys = ", ".join(f"{k.selector} ({k.key_type} {k.key_bits})" for k in facts.dkim)
    return CheckLine("DKIM", Status.OK, f"keys found: {keys}")


def _dmarc(facts: DomainFacts) -> CheckLine:
    dmarc = facts.dmarc
    if dmarc is None or dmarc.record is None:
        return CheckLine("DMARC", Status.FAIL, f"no DMARC record at _dmarc.{facts.domain}")
    if dmarc.error:
        return CheckLine(
            "DMARC", Status.FAIL, f"DMARC at _dmarc.{dmarc.location or facts.domain} is broken: {dmarc.error}"
        )
    where = "" if dmarc.location in ("", facts.domain) else f" (from {dmarc.location})"
    text = f"p={dmarc.policy}, adkim={dmarc.adkim}, aspf={dmarc.aspf}{where}"
    if dmarc.policy == "none":
        return CheckLine("DMARC", Status.OK, f"{text}: enough for Gmail and Yahoo; it only monitors")
    return CheckLine("DMARC", Status.OK, text)


def _mail_from(facts: DomainFacts, expect: Expectations) -> CheckLine:
    mail_from = facts.mail_from or facts.domain
    if not expect.mail_from_mx:
        return CheckLine("MAIL FROM", Status.OK, f"{mail_from} (the sender's own domain: aligned)")
    if not facts.mail_from_mx:
        return CheckLine("MAIL FROM", Status.FAIL, f"{mail_from} has no MX (SES needs {expect.mail_from_mx})")
    if expect.mail_from_mx not in facts.mail_from_mx:
        hosts = ", ".join(facts.mail_from_mx)
        return CheckLine("MAIL FROM", Status.FAIL, f"{mail_from} MX is {hosts}, not {expect.mail_from_mx}")
    return CheckLine("MAIL FROM", Status.OK, f"{mail_from} MX {expect.mail_from_mx}")
