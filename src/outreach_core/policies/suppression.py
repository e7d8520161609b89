"""Which outcomes suppress an address, and where. Data, so a tenant can override it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from outreach_core.domain.suppression import SuppressionReason, SuppressionScope


class SuppressionPolicy(BaseModel):
    model_config = ConfigDict(frozen=True)

    hard_bounce: tuple[SuppressionScope, ...] = (SuppressionScope.TENANT,)
    complaint: tuple[SuppressionScope, ...] = (SuppressionScope.TENANT, SuppressionScope.GLOBAL)
    unsubscribe: tuple[SuppressionScope, ...] = (SuppressionScope.TENANT,)
    soft_bounces_before_suppress: int = 3

    def scopes_for(self, reason: SuppressionReason) -> tuple[SuppressionScope, ...]:
        match reason:
            case SuppressionReason.HARD_BOUNCE | SuppressionReason.SOFT_BOUNCE_REPEATED:
                return self.hard_bounce
            case SuppressionReason.COMPLAINT:
                return self.complaint
            case SuppressionReason.UNSUBSCRIBE:
                return self.unsubscribe
            case _:
                return (SuppressionScope.TENANT,)
