"""Sending-domain health as a use case: `outreach domain check` and the gate at `campaign start`.

The DKIM selectors of a domain (SES Easy DKIM's three tokens, or a relay's selector) are remembered
once given (GLOBAL `DKIM#<domain>`), so later checks, and every campaign start, test the same keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from outreach_core.domain.models import Campaign, SenderIdentity
from outreach_core.policies.domain_health import DomainReport, Expectations, assess
from outreach_core.ports import Clock, DomainInspector, Put
from outreach_core.records import GLOBAL, Records
from outreach_core.services.audit import AuditTrail

log = structlog.get_logger(__name__)


class DomainCheckFailed(Exception):
    """A campaign would send from a domain whose SPF, DKIM or DMARC fails."""

    def __init__(self, reports: Sequence[DomainReport]) -> None:
        self.reports = list(reports)
        lines = [f"{r.domain}: {line.name}: {line.message}" for r in reports for line in r.failing]
        super().__init__("; ".join(lines))


@dataclass(frozen=True)
class MailFrom:
    """How the MAIL FROM domain follows from the sending domain: `{domain}` or `bounce-x.{domain}`."""

    template: str = "{domain}"

    def of(self, domain: str) -> str:
        return self.template.format(domain=domain)


class DomainHealthService:
    def __init__(
        self,
        records: Records,
        clock: Clock,
        inspector: DomainInspector,
        expectations: Expectations | None = None,
        mail_from: MailFrom | None = None,
    ) -> None:
        self.records = records
        self.clock = clock
        self.inspector = inspector
        self.expectations = expectations or Expectations()
        self.mail_from = mail_from or MailFrom()
        self.audit = AuditTrail(records)

    def selectors(self, domain: str) -> list[str]:
        item = self.records.store.get(GLOBAL, f"DKIM#{domain.lower()}")
        return list(item.data.get("selectors", [])) if item else []

    def remember_selectors(self, domain: str, selectors: Sequence[str]) -> None:
        data = {"selectors": list(dict.fromkeys(selectors)), "at": self.clock.now().isoformat()}
        self.records.store.write(Put(partition=GLOBAL, sort=f"DKIM#{domain.lower()}", data=data))

    def check(self, domain: str, selectors: Sequence[str] = (), mail_from: str = "") -> DomainReport:
        """One domain, one line per check. Selectors given here are remembered for later checks."""
        domain = domain.lower().rstrip(".")
        if selectors:
            self.remember_selectors(domain, selectors)
        known = list(selectors) or self.selectors(domain)
        facts = self.inspector.inspect(
            domain, mail_from=mail_from or self.mail_from.of(domain), selectors=known
        )
        return assess(facts, self.expectations)

    def campaign_domains(self, tenant_id: str, campaign_id: str) -> list[str]:
        campaign = self.records.get(Campaign, tenant_id, campaign_id)
        identities = self.records.all(SenderIdentity, tenant_id)
        return sorted({i.domain.lower() for i in identities if i.serves(campaign.direction_id)})

    def gate(
        self, tenant_id: str, campaign_id: str, *, override: str = "", actor: str = "operator"
    ) -> list[DomainReport]:
        """Check every domain the campaign may send from. Raises DomainCheckFailed when one fails, unless
        `override` gives the operator's reason: then the start goes ahead, audited with what failed."""
        reports = [self.check(d) for d in self.campaign_domains(tenant_id, campaign_id)]
        failing = [r for r in reports if r.blocks]
        if failing and not override:
            raise DomainCheckFailed(failing)
        if failing:
            lines = [f"{r.domain} {line.name}: {line.message}" for r in failing for line in r.failing]
            self.audit.record(
                tenant_id,
                self.clock.now(),
                actor,
                "campaign.domain_check_overridden",
                campaign_id,
                override,
                failing=lines,
            )
            log.warning("domain_check.overridden", tenant_id=tenant_id, campaign_id=campaign_id)
        return reports
