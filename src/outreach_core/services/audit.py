"""The audit trail: every admin and automatic action, appended to the tenant's log."""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

import structlog

from outreach_core.domain.audit import AuditEntry
from outreach_core.domain.ids import stable_seed
from outreach_core.ports import ConditionFailed, Put
from outreach_core.records import Records

log = structlog.get_logger(__name__)


class AuditTrail:
    def __init__(self, records: Records) -> None:
        self.records = records

    def entry_op(
        self,
        tenant_id: str,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        reason: str = "",
        **details: Any,
    ) -> Put:
        entry = AuditEntry(
            tenant_id=tenant_id,
            at=at,
            actor=actor,
            action=action,
            target=target,
            reason=reason,
            details=details,
        )
        seq = f"{stable_seed(action, target, reason, at.isoformat()) % 10**8:08d}"
        return self.records.audit_put(entry, seq)

    def record(
        self,
        tenant_id: str,
        at: datetime,
        actor: str,
        action: str,
        target: str,
        reason: str = "",
        **details: Any,
    ) -> None:
        log.info("audit", tenant_id=tenant_id, actor=actor, action=action, target=target, reason=reason)
        # ConditionFailed: the very same entry at the same instant is already recorded.
        with contextlib.suppress(ConditionFailed):
            self.records.store.write(self.entry_op(tenant_id, at, actor, action, target, reason, **details))
