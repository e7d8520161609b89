"""Notifier that writes alerts to the structured log (the local default; others wrap or replace it)."""

from __future__ import annotations

import structlog

from outreach_core.ports import Alert

log = structlog.get_logger("alerts")


class LogNotifier:
    def __init__(self) -> None:
        self.sent: list[Alert] = []

    def notify(self, alert: Alert) -> None:
        self.sent.append(alert)
        log.warning(
            "alert",
            kind=alert.kind,
            severity=alert.severity,
            tenant_id=alert.tenant_id,
            subject=alert.subject,
            message=alert.message,
        )
