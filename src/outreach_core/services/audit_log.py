"""Reading and archiving the audit log. Entries are appended by AuditTrail (who / what / when / why)
and never changed; whole days are copied to the Archive as JSON lines, one blob per tenant per day
(`audit/<tenant>/<yyyy>/<mm>/<dd>.jsonl`), so the log outlives the store and can be handed over."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import structlog

from outreach_core.domain.audit import AuditEntry
from outreach_core.ports import Archive, Clock, ConditionFailed
from outreach_core.records import Records, tenant_partition

log = structlog.get_logger(__name__)

_CURSOR = "AUDITARCH"  # {"day": last archived yyyy-mm-dd, "refs": {...}}: which days are in the archive


@dataclass(frozen=True)
class ArchivedDay:
    day: date
    entries: int
    ref: str


def archive_key(tenant_id: str, day: date) -> str:
    return f"audit/{tenant_id}/{day:%Y/%m/%d}.jsonl"


class AuditLog:
    def __init__(self, records: Records, clock: Clock, archive: Archive) -> None:
        self.records = records
        self.clock = clock
        self.archive = archive

    def entries(
        self,
        tenant_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = None,
        limit: int | None = None,
    ) -> list[AuditEntry]:
        """Oldest first. `since` / `until` bound the time; `action` filters by prefix (`suppression.`)."""
        after = f"AUDIT#{since:%Y%m%dT%H%M%S.%f}" if since else None
        upto = f"AUDIT#{until:%Y%m%dT%H%M%S.%f}~" if until else None
        items = self.records.store.query(tenant_partition(tenant_id), "AUDIT#", after=after, upto=upto)
        out = []
        for item in items:
            entry = AuditEntry.model_validate(item.data)
            if action and not entry.action.startswith(action):
                continue
            out.append(entry)
            if limit and len(out) >= limit:
                break
        return out

    def day(self, tenant_id: str, day: date) -> list[AuditEntry]:
        items = self.records.store.query(tenant_partition(tenant_id), f"AUDIT#{day:%Y%m%d}T")
        return [AuditEntry.model_validate(i.data) for i in items]

    def archive_day(self, tenant_id: str, day: date) -> ArchivedDay | None:
        """Write one day's entries as JSON lines (the same bytes every time: safe to repeat)."""
        entries = self.day(tenant_id, day)
        if not entries:
            return None
        lines = [json.dumps(e.model_dump(mode="json"), ensure_ascii=False, sort_keys=True) for e in entries]
        ref = self.archive.put(
            archive_key(tenant_id, day), ("\n".join(lines) + "\n").encode(), "application/x-ndjson"
        )
        return ArchivedDay(day, len(entries), ref)

    def archive_pending(self, tenant_id: str) -> list[ArchivedDay]:
        """Archive every complete day (before today, UTC) since the last one archived. Run it daily."""
        doc, version = self.records.state(tenant_id, _CURSOR)
        today = self.clock.now().date()
        if doc.get("day"):
            start = date.fromisoformat(str(doc["day"])) + timedelta(days=1)
        else:
            first = self.records.store.query(tenant_partition(tenant_id), "AUDIT#", limit=1)
            if not first:
                return []
            start = AuditEntry.model_validate(first[0].data).at.date()
        done: list[ArchivedDay] = []
        day = start
        while day < today:
            archived = self.archive_day(tenant_id, day)
            if archived is not None:
                done.append(archived)
            day += timedelta(days=1)
        if day > start:
            try:
                self.records.store.write(
                    self.records.state_put(
                        tenant_id, _CURSOR, {"day": (day - timedelta(days=1)).isoformat()}, version
                    )
                )
            except ConditionFailed:
                log.info("audit.archive_concurrent", tenant_id=tenant_id)  # another run did the same days
        log.info("audit.archived", tenant_id=tenant_id, days=len(done))
        return done
