"""Lambda event records -> the payloads our services take (the shapes AWS delivers, normalised here).

SNS -> Lambda records carry the SES event JSON as a string in `Sns.Message` (note the Lambda spelling
`SigningCertUrl` / `UnsubscribeUrl` in that envelope; we do not verify signatures: Lambda is invoked by
the SNS service principal). SNS -> SQS -> Lambda records carry the SNS envelope as the SQS `body`. moto
delivers `Message` as an object instead of a string in some paths, so both are accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

IAM_ACTIONS: frozenset[str] = frozenset()  # parsing only: no AWS calls


def _as_json(message: Any) -> str:
    return message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)


def ses_event_json(record: Mapping[str, Any]) -> str:
    """The SES event JSON inside one SNS (or SNS-via-SQS) Lambda record; other records as they are."""
    sns = record.get("Sns")
    if isinstance(sns, Mapping):
        return _as_json(sns.get("Message", ""))
    body = record.get("body")
    if isinstance(body, str):
        try:
            envelope = json.loads(body)
        except (ValueError, RecursionError):
            return body  # not JSON: the ingestor reports it as rejected
        if isinstance(envelope, Mapping) and envelope.get("Type") == "Notification" and "Message" in envelope:
            return _as_json(envelope["Message"])
        return body
    return _as_json(record)
