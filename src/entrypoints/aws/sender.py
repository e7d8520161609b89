"""Lambda: SQS batch -> SenderService.handle per record -> partial batch failures (ReportBatchItemFailures).

A record whose job lost its compare-and-set races (result.redeliver) or whose handling raised goes back
to the queue; the others are deleted by Lambda. Dead letters were already moved by the sender itself.
"""

from __future__ import annotations

from typing import Any

import structlog

from entrypoints.aws.runtime import application, invocation

queue = application.adapters.job_queue()
sender = application.services.sender()
log = structlog.get_logger(__name__)


@invocation
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    failures = []
    with sender.invocation():
        for record in event.get("Records", []):
            try:
                result = sender.handle(queue.from_lambda_record(record))
            except Exception:
                log.exception("sender.record_failed", message_id=record.get("messageId"))
                failures.append({"itemIdentifier": record["messageId"]})
                continue
            if result.redeliver:
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
