"""boto3 clients with explicit retry and timeout settings (never botocore's defaults by accident).

SES sends get no SDK retries at all: SendEmail has no idempotency token, so a retry after a read
timeout or a 5xx could send the message twice. The sender decides instead (requeue on throttling,
`uncertain` when SES may have accepted). Everything else is idempotent or conditional and gets the
standard retry mode with a few attempts.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

IAM_ACTIONS: frozenset[str] = frozenset()  # builds clients; calls no AWS API itself
DATA_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=3, read_timeout=10
)
SES_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=3, read_timeout=15)


def make_client(
    session: boto3.session.Session, service: str, region: str, endpoint_url: str | None = None
) -> Any:
    """A client for `service` in `region`; `endpoint_url` points tests at a moto server."""
    config = SES_CONFIG if service in ("ses", "sesv2") else DATA_CONFIG
    return session.client(service, region_name=region, endpoint_url=endpoint_url or None, config=config)  # type: ignore[call-overload]
