"""Daily exports to the archive: one gzip JSON-lines object per tenant per day.

`exports/<tenant>/YYYY/MM/DD/jobs.jsonl.gz` holds every job that changed that day (its final state at
export time): a compact, tenant-separated record the 90-day archive keeps after the store's own TTLs
have dropped the detail. One object per tenant and day, never one per job.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from outreach_core.ports import Archive
from outreach_core.records import Records


@dataclass(frozen=True)
class ExportResult:
    tenant_id: str
    key: str
    ref: str
    jobs: int


def export_key(tenant_id: str, day: date, name: str = "jobs") -> str:
    return f"exports/{tenant_id}/{day:%Y/%m/%d}/{name}.jsonl.gz"


def export_day(
    records: Records, archive: Archive, day: date, tenants: Iterable[str] | None = None
) -> list[ExportResult]:
    results = []
    for tenant_id in tenants if tenants is not None else [t.id for t in records.tenants()]:
        jobs = [j for j in records.jobs(tenant_id) if j.updated_at.date() == day]
        if not jobs:
            continue
        lines = [
            json.dumps(j.model_dump(mode="json"), ensure_ascii=False, separators=(",", ":"), sort_keys=True)
            for j in sorted(jobs, key=lambda j: j.job_id)
        ]
        key = export_key(tenant_id, day)
        ref = archive.put(
            key, gzip.compress("\n".join(lines).encode("utf-8"), mtime=0), "application/x-ndjson"
        )
        results.append(ExportResult(tenant_id, key, ref, len(jobs)))
    return results


def read_lines(archive: Archive, ref: str) -> list[dict[str, object]]:
    """The JSON lines behind a reference (`<ref>#<n>` picks line n, as feedback payload refs do)."""
    base, _, line = ref.partition("#")
    rows = [json.loads(x) for x in gzip.decompress(archive.get(base)).decode("utf-8").splitlines() if x]
    return [rows[int(line)]] if line else rows
