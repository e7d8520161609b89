"""Lambda: the webhook delivery queue (SQS, ReportBatchItemFailures) -> one signed POST per record.

A receiver that fails gets its next attempt as a new delayed message (30 s, 2 min, 8 min, then every
15 min) until the last, which dead-letters the delivery in the log; the record itself is done either
way. Only a record whose handling raised goes back to the queue (its DLQ after a few receives).
"""

from __future__ import annotations

from typing import Any

import structlog

from adapters.aws.sqs_outbox import received
from entrypoints.aws.runtime import application, invocation

webhooks = application.services.webhooks()
secrets = application.adapters.secrets()  # the signing secrets' SSM reader, built at cold start
log = structlog.get_logger(__name__)


@invocation
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    if webhooks is None:
        raise RuntimeError("OUTREACH_WEBHOOK_QUEUE_URL is not set: webhooks are off")
    failures: list[dict[str, str]] = []
    outcomes: dict[str, int] = {}
    for record in event.get("Records", []):
        try:
            result = webhooks.handle(received(record))
        except Exception:
            log.exception("webhooks.record_failed", message_id=record.get("messageId"))
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
    return {"batchItemFailures": failures, "outcomes": outcomes}
