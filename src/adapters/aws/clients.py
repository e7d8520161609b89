"""boto3 clients with explicit retry and timeout settings (never botocore's defaults by accident).

SES sends get no SDK retries at all: SendEmail has no idempotency token, so a retry after a read
timeout or a 5xx could send the message twice. The sender decides instead (requeue on throttling,
`uncertain` when SES may have accepted). Everything else is idempotent or conditional and gets the
standard retry mode with a few attempts.
"""

from __future__ import annotations

import threading
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


class DeferredClient:
    """A client built on its first use, for those a function rarely calls: the alert topic's SNS, SSM
    for SMTP identities' secrets, the failover region's SES. Loading a service model costs 10-50 ms of
    a cold start; a function that never alerts or fails over never pays it."""

    def __init__(
        self, session: boto3.session.Session, service: str, region: str, endpoint_url: str | None
    ) -> None:
        self.service = service
        self._arguments = (session, service, region, endpoint_url)
        self._client: Any = None
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = make_client(*self._arguments)
        return getattr(self._client, name)

    @property
    def built(self) -> bool:
        return self._client is not None
