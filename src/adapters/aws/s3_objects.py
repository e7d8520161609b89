"""Reads a received message that an SES receipt rule stored in S3 (the EventIngestor's inbound_reader).

Only the configured inbound bucket(s) and key prefix are read, whatever a notification names, and at
most SES's 40 MB message limit. The AWS container gives it to the EventIngestor when
OUTREACH_INBOUND_BUCKET is set (with OUTREACH_INBOUND_PREFIX, the receipt rule's object key prefix).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

IAM_ACTIONS = frozenset({"s3:GetObject"})
MAX_MESSAGE_BYTES = 40 * 1024 * 1024


class S3ObjectReader:
    def __init__(self, client: Any, buckets: Iterable[str], prefix: str = "") -> None:
        self.client = client
        self.buckets = frozenset(b for b in buckets if b)
        self.prefix = prefix
        if not self.buckets:
            raise ValueError("the inbound reader needs the bucket(s) it may read")

    def __call__(self, bucket: str, key: str) -> bytes:
        if bucket not in self.buckets or not key.startswith(self.prefix) or ".." in key.split("/"):
            raise ValueError(
                f"refusing to read s3://{bucket[:63]}/{key[:200]}: not the inbound bucket/prefix"
            )
        response = self.client.get_object(Bucket=bucket, Key=key)
        if int(response.get("ContentLength") or 0) > MAX_MESSAGE_BYTES:
            raise ValueError("stored message is larger than SES accepts")
        body: bytes = response["Body"].read(MAX_MESSAGE_BYTES + 1)
        return body
