"""Lambda: EventBridge Scheduler -> one planner tick (plan due steps, wake parked jobs, expire leases)."""

from __future__ import annotations

from typing import Any

from entrypoints.aws.runtime import application, invocation

planner = application.services.planner()


@invocation
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    report = planner.tick()
    return {
        "planned": report.planned,
        "enqueued": report.enqueued,
        "deferred": report.deferred,
        "stopped": report.stopped,
        "uncertain": report.uncertain,
        "next_due": report.next_due.isoformat() if report.next_due else None,
    }
