"""Suppression: addresses that must never be sent to again, per tenant or for everybody."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_validator


class SuppressionScope(StrEnum):
    TENANT = "tenant"
    GLOBAL = "global"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE_REPEATED = "soft_bounce_repeated"
    COMPLAINT = "complaint"
    UNSUBSCRIBE = "unsubscribe"
    MANUAL = "manual"
    ERASURE = "erasure"


class SuppressionEntry(BaseModel):
    model_config = ConfigDict(frozen=True)

    scope: SuppressionScope
    tenant_id: str | None
    email_hash: str
    email: str | None = None  # dropped on erasure; the hash alone keeps the address suppressed
    reason: SuppressionReason
    source: str = ""  # event id, operator, import
    created_at: datetime

    @model_validator(mode="after")
    def _tenant_matches_scope(self) -> SuppressionEntry:
        if (self.scope is SuppressionScope.TENANT) != (self.tenant_id is not None):
            raise ValueError("tenant-scoped entries need a tenant_id; global entries must not have one")
        return self


class DomainBlock(BaseModel):
    """A tenant's do-not-contact domain (a competitor, an existing customer): nobody at it, or at any
    of its subdomains, is sent to by this tenant. Checked at import, before step 1 and at send time."""

    model_config = ConfigDict(frozen=True)

    tenant_id: str
    domain: str
    reason: str = "do not contact"  # competitor | customer | partner | ... (free text, one word best)
    note: str = ""
    created_at: datetime
    actor: str = "operator"
