"""One-click unsubscribe (RFC 8058): a signed token in, the address suppressed and its jobs stopped.

The token (rendering/unsubscribe.py) names tenant and lead and is HMAC-signed, so the endpoint needs no
cookie, session or login: the POST a mailbox provider sends on the recipient's behalf is enough. The
GET confirmation page only reads (`preview`): link scanners follow links, and a GET must never
unsubscribe anybody. Unsubscribing twice is harmless and answers the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog

from outreach_core.domain.models import Lead, Tenant
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.ports import Clock
from outreach_core.records import NotFoundError, Records
from outreach_core.rendering.unsubscribe import UnsubscribeToken, verify
from outreach_core.services.audit import AuditTrail
from outreach_core.services.suppression import SuppressionService

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class UnsubscribePreview:
    tenant_name: str
    masked_email: str  # j***@example.com: enough to recognise, not enough to harvest


@dataclass(frozen=True)
class UnsubscribeOutcome:
    ok: bool
    tenant_id: str = ""
    lead_id: str = ""
    cancelled: int = 0
    detail: str = ""


def mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


class UnsubscribeService:
    def __init__(
        self, records: Records, clock: Clock, suppression: SuppressionService, secrets: Sequence[str]
    ) -> None:
        if not [s for s in secrets if s]:
            raise ValueError("the unsubscribe service needs at least one secret")
        self.records = records
        self.clock = clock
        self.suppression = suppression
        self.secrets = [s for s in secrets if s]
        self.audit = AuditTrail(records)

    def _token(self, token: str) -> UnsubscribeToken | None:
        parsed = verify(self.secrets, token)
        if parsed is None:
            log.warning("unsubscribe.bad_token")
        return parsed

    def preview(self, token: str) -> UnsubscribePreview | None:
        """What the GET page shows; None for a token we did not sign. Changes nothing."""
        parsed = self._token(token)
        if parsed is None:
            return None
        tenant = self._tenant(parsed.tenant_id)
        lead = self.records.find(Lead, parsed.tenant_id, parsed.lead_id)
        return UnsubscribePreview(
            tenant_name=(tenant.legal_name or tenant.name) if tenant else "",
            masked_email=mask(lead.email) if lead else "",
        )

    def unsubscribe(self, token: str, *, channel: str = "one-click") -> UnsubscribeOutcome:
        """Suppress the token's address in its tenant (per policy) and cancel the lead's open jobs."""
        parsed = self._token(token)
        if parsed is None:
            return UnsubscribeOutcome(False, detail="this unsubscribe link is not valid")
        tenant_id, lead_id = parsed.tenant_id, parsed.lead_id
        now = self.clock.now()
        lead = self.records.find(Lead, tenant_id, lead_id)
        if lead is None:
            # Erased on request, or never existed: there is nobody left to mail.
            log.info("unsubscribe.no_lead", tenant_id=tenant_id, lead_id=lead_id)
            return UnsubscribeOutcome(True, tenant_id, lead_id, detail="nothing to do")
        actor = f"recipient:{channel}"
        self.suppression.suppress(
            tenant_id, lead.email, SuppressionReason.UNSUBSCRIBE, source=channel, at=now, actor=actor
        )
        cancelled = self.suppression.cancel_open_jobs(tenant_id, lead_id, "unsubscribed", now)
        self.audit.record(tenant_id, now, actor, "lead.unsubscribe", lead_id, channel, cancelled=cancelled)
        log.info(
            "unsubscribe.done", tenant_id=tenant_id, lead_id=lead_id, cancelled=cancelled, channel=channel
        )
        return UnsubscribeOutcome(True, tenant_id, lead_id, cancelled)

    def _tenant(self, tenant_id: str) -> Tenant | None:
        try:
            return self.records.tenant(tenant_id)
        except NotFoundError:
            return None
