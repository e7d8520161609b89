"""Webhooks out: a tenant's endpoints, the events they take, and each delivery with its attempts.

A delivery is signed: HMAC-SHA256 with the endpoint's secret over `<timestamp>.<body>`, the timestamp
(Unix seconds) in its own header, so a receiver can refuse a stale or replayed request and verify
that we sent it. The delivery id stays the same across retries and redeliveries (a receiver that has
seen it knows it is a repeat); the attempt number says which try this is.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from outreach_core.domain.accounts import check_secret_ref
from outreach_core.domain.ids import Slug
from outreach_core.domain.models import Entity

EVENT_TYPES: dict[str, str] = {
    "reply.received": "a reply came back to one of a campaign's messages (any category)",
    "lead.interested": "a reply was categorised interested (by the rules or a person)",
    "lead.unsubscribed": "a lead asked to be left alone (link, reply or complaint): suppressed",
    "lead.bounced": "a hard bounce suppressed a lead",
    "campaign.paused": "a campaign was paused (auto-stop or a person)",
    "identity.blocked": "a sender identity was blocked (complaint rate, or a person)",
}
SIGNATURE_HEADER = "X-Outreach-Signature"
TIMESTAMP_HEADER = "X-Outreach-Timestamp"
EVENT_HEADER = "X-Outreach-Event"
DELIVERY_HEADER = "X-Outreach-Delivery"
ATTEMPT_HEADER = "X-Outreach-Attempt"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """`v1=<hex>`: HMAC-SHA256 of `<timestamp>.<body>` under the endpoint's secret."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def verify(
    secret: str, timestamp: int, body: bytes, header: str, *, now: int, tolerance_s: int = 300
) -> bool:
    """What a receiver does: the signature matches and the timestamp is recent (no replays)."""
    if abs(now - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(signature(secret, timestamp, body), header.strip())


class WebhookEndpoint(Entity):
    tenant_id: Slug
    id: Slug
    url: str
    secret_ref: str = Field(description="reference to the signing secret: env:, file: or ssm:")
    events: tuple[str, ...] = Field(default=(), description="event types it takes; empty = all")
    enabled: bool = True
    created_at: datetime

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")) or any(c.isspace() for c in value):
            raise ValueError("url: an http(s) URL")
        return value

    @field_validator("secret_ref")
    @classmethod
    def _ref(cls, value: str) -> str:
        return check_secret_ref(value)

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [e for e in value if e not in EVENT_TYPES]
        if unknown:
            raise ValueError(f"unknown event type {unknown[0]!r} (known: {', '.join(EVENT_TYPES)})")
        return value

    def takes(self, event_type: str) -> bool:
        return self.enabled and (not self.events or event_type in self.events)


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # queued, or waiting for its next attempt
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD_LETTERED = "dead_lettered"  # every attempt failed: `outreach webhooks redeliver` sends it again


class Attempt(BaseModel):
    model_config = ConfigDict(frozen=True)

    number: int
    at: datetime
    status_code: int  # 0: no HTTP answer (connection refused, timeout)
    detail: str = ""


class WebhookDelivery(Entity):
    tenant_id: Slug
    id: str  # <created yyyymmddThhmmss>-<hash>: lists in time order; stable across retries
    endpoint_id: Slug
    event_type: str
    event_id: str
    body: str  # the JSON payload exactly as signed and sent
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: tuple[Attempt, ...] = ()
    redeliveries: int = 0  # times a person sent it again (`outreach webhooks redeliver`)
    round_start: int = 0  # the attempt number the current round of retries started after
    created_at: datetime
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None
