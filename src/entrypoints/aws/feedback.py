"""Lambda: SNS records carrying SES event JSON or SES receipt notifications -> the event ingestor
(archive, normalise, apply). Replies the receipt rule stored in S3 are read from the inbound bucket and
get the same reply / auto-reply rules as on the local worker.

Malformed payloads are reported and logged, not retried (a retry cannot fix them); an error while
applying propagates, so Lambda retries the invocation; events already applied are deduplicated.
"""

from __future__ import annotations

from typing import Any

import structlog

from adapters.aws.lambda_events import ses_event_json
from entrypoints.aws.runtime import application, invocation

ingestor = application.services.ingestor()
log = structlog.get_logger(__name__)


@invocation
def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    report = ingestor.ingest([ses_event_json(record) for record in event.get("Records", [])])
    for index, reason in report.rejected:
        log.warning("feedback.rejected_record", index=index, reason=reason)
    return {
        "applied": report.applied,
        "duplicates": report.duplicates,
        "unmatched": report.unmatched,
        "replies": report.replies,
        "rejected": len(report.rejected),
    }
