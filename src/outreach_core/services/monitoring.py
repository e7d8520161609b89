"""Queue monitoring: depth, in flight, delayed, age of the oldest message and dead letters, as metrics,
and an alert while the dead-letter queue is not empty.

Run it where something already wakes up regularly: `outreach status`, the local worker's loop, the
planner's scheduled tick on AWS. The alert repeats on every check while dead letters remain; the
rate-limited notifier turns that into one alert per window.
"""

from __future__ import annotations

import structlog

from outreach_core.ports import Alert, Clock, JobQueue, Metrics, Notifier, QueueStats
from outreach_core.telemetry import (
    DEAD_LETTERS,
    QUEUE_DELAYED,
    QUEUE_IN_FLIGHT,
    QUEUE_OLDEST_AGE,
    QUEUE_VISIBLE,
    NullMetrics,
)

log = structlog.get_logger(__name__)


class QueueMonitor:
    def __init__(
        self,
        queue: JobQueue,
        clock: Clock,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        queue_name: str = "jobs",
        emit_metrics: bool = True,
    ) -> None:
        self.queue = queue
        self.clock = clock
        # On AWS, SQS publishes depth and age for free (AWS/SQS): pass emit_metrics=False there so the
        # monitor only alerts, and five custom metrics are not paid for twice (ADR 0400).
        self.metrics = metrics if metrics is not None and emit_metrics else NullMetrics()
        self.notifier = notifier
        self.queue_name = queue_name

    def check(self) -> QueueStats:
        stats = self.queue.stats()
        name = self.queue_name
        self.metrics.emit(QUEUE_VISIBLE, stats.visible, "Count", Queue=name)
        self.metrics.emit(QUEUE_IN_FLIGHT, stats.in_flight, "Count", Queue=name)
        self.metrics.emit(QUEUE_DELAYED, stats.delayed, "Count", Queue=name)
        self.metrics.emit(QUEUE_OLDEST_AGE, stats.oldest_age_s, "Seconds", Queue=name)
        self.metrics.emit(DEAD_LETTERS, stats.dead, "Count", Queue=name)
        if stats.dead > 0 and self.notifier is not None:
            alert = Alert(
                kind="dlq.not_empty",
                severity="critical" if stats.dead >= 10 else "warning",
                subject=f"{name} queue",
                message=(
                    f"{stats.dead} message(s) in the {name} dead-letter queue: "
                    "`outreach dlq list` to triage, `outreach dlq redrive` once the cause is fixed"
                ),
                at=self.clock.now(),
                details={"dead": stats.dead, "visible": stats.visible, "oldest_age_s": stats.oldest_age_s},
            )
            try:
                self.notifier.notify(alert)
            except Exception:
                log.exception("monitor.alert_failed", kind=alert.kind)
        return stats
