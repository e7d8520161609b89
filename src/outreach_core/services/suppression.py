"""Suppression: put an address on the tenant's (and, by policy, the global) list and stop its lead."""

from __future__ import annotations

from datetime import datetime

import structlog

from outreach_core.domain.ids import email_hash, lead_id_for
from outreach_core.domain.models import Lead, LeadStatus
from outreach_core.domain.suppression import SuppressionEntry, SuppressionReason, SuppressionScope
from outreach_core.policies.suppression import SuppressionPolicy
from outreach_core.ports import ConditionFailed, Put
from outreach_core.records import Records
from outreach_core.services.audit import AuditTrail

log = structlog.get_logger(__name__)

LEAD_STATUS = {
    SuppressionReason.HARD_BOUNCE: LeadStatus.BOUNCED,
    SuppressionReason.SOFT_BOUNCE_REPEATED: LeadStatus.BOUNCED,
    SuppressionReason.COMPLAINT: LeadStatus.COMPLAINED,
    SuppressionReason.UNSUBSCRIBE: LeadStatus.UNSUBSCRIBED,
}


class SuppressionService:
    def __init__(self, records: Records, policy: SuppressionPolicy | None = None) -> None:
        self.records = records
        self.policy = policy or SuppressionPolicy()
        self.audit = AuditTrail(records)

    def entries(
        self, tenant_id: str, email: str, reason: SuppressionReason, source: str, at: datetime
    ) -> list[Put]:
        """Entries for the scopes the policy names that do not hold this address yet."""
        puts = []
        digest = email_hash(email)
        for scope in self.policy.scopes_for(reason):
            partition = self.records.suppression_partition(scope, tenant_id)
            if self.records.store.get(partition, f"SUPP#{digest}") is not None:
                continue
            entry = SuppressionEntry(
                scope=scope,
                tenant_id=tenant_id if scope is SuppressionScope.TENANT else None,
                email_hash=digest,
                email=email,
                reason=reason,
                source=source,
                created_at=at,
            )
            puts.append(self.records.suppression_put(entry))
        return puts

    def suppress(
        self,
        tenant_id: str,
        email: str,
        reason: SuppressionReason,
        *,
        source: str,
        at: datetime,
        actor: str = "system:feedback",
    ) -> None:
        """Suppress per policy, and stop the address's lead in this tenant. Idempotent."""
        entries = self.entries(tenant_id, email, reason, source, at)
        if entries:
            self.records.store.write(*entries)
            self.audit.record(
                tenant_id, at, actor, "suppression.add", email_hash(email), reason.value, source=source
            )
        self.stop_lead(tenant_id, email, LEAD_STATUS.get(reason, LeadStatus.UNSUBSCRIBED))

    def stop_lead(self, tenant_id: str, email: str, status: LeadStatus) -> None:
        for _ in range(3):
            lead = self.records.find(Lead, tenant_id, lead_id_for(tenant_id, email))
            if lead is None or lead.status is not LeadStatus.ACTIVE:
                return
            try:
                self.records.replace(lead.model_copy(update={"status": status}))
                return
            except ConditionFailed:
                continue
