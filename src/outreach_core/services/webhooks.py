"""Webhooks out: publish an event to a tenant's endpoints, deliver it signed, retry with backoff,
dead-letter after the last attempt, and keep every attempt in the delivery log.

Publishing writes one delivery record per endpoint (conditional on its id, which derives from the
event: publishing the same event twice delivers it once) and puts a message naming it on the webhook
queue. Delivering reads the record, signs and POSTs the body, and records the attempt: 2xx delivered;
otherwise a new delayed message for the next attempt, until `max_attempts`, then dead-lettered.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from pydantic import BaseModel, ConfigDict, ValidationError

from outreach_core.domain.addresses import redact_addresses
from outreach_core.domain.webhooks import (
    ATTEMPT_HEADER,
    DELIVERY_HEADER,
    EVENT_HEADER,
    EVENT_TYPES,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Attempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    signature,
)
from outreach_core.ports import (
    Clock,
    ConditionFailed,
    MessageSink,
    QueueMessage,
    ReceivedMessage,
    SecretSource,
    SecretUnavailable,
    WebhookTransport,
)
from outreach_core.records import Records, stamp
from outreach_core.services.audit import AuditTrail

log = structlog.get_logger(__name__)

MAX_LOGGED_ATTEMPTS = 20


class WebhookConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    max_attempts: int = 8
    first_retry: timedelta = timedelta(seconds=30)
    max_retry: timedelta = timedelta(seconds=900)  # the queue's longest delay (SQS: 15 minutes)


class DeliveryMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    delivery_id: str


@dataclass(frozen=True)
class DeliveryResult:
    outcome: str  # delivered | retrying | dead_lettered | skipped
    delivery_id: str = ""
    status_code: int = 0
    detail: str = ""


def retry_after(config: WebhookConfig, attempts: int) -> timedelta:
    """30 s, 2 min, 8 min, then every 15 min: exponential, capped at the queue's longest delay."""
    wait: timedelta = config.first_retry * (4 ** min(max(0, attempts - 1), 12))  # no overflow at 22+
    return min(config.max_retry, wait)


class WebhookPublisher:
    """The publishing half (what the planner, sender, feedback, unsubscribe and the IMAP poller hold):
    it writes delivery records and queues them, and never reads a signing secret."""

    def __init__(self, records: Records, clock: Clock, queue: MessageSink) -> None:
        self.records = records
        self.clock = clock
        self.queue = queue

    def publish(self, tenant_id: str, event_type: str, key: str, data: Mapping[str, Any]) -> int:
        """One delivery per endpoint that takes `event_type`. `key` names the occurrence (a reply's event
        id, a lead id): the same (type, key) published again is not delivered again. Returns how many
        deliveries were queued. Never raises for a delivery problem: an event must not stop sending."""
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown webhook event type {event_type!r}")
        endpoints = [e for e in self.records.all(WebhookEndpoint, tenant_id) if e.takes(event_type)]
        if not endpoints:
            return 0
        now = self.clock.now()
        event_id = "evt_" + hashlib.sha256(f"{tenant_id}\x1f{event_type}\x1f{key}".encode()).hexdigest()[:24]
        body = json.dumps(
            {
                "id": event_id,
                "type": event_type,
                "created_at": now.isoformat(),
                "tenant_id": tenant_id,
                "data": dict(data),
            },
            ensure_ascii=False,
            separators=(",", ":"),
            sort_keys=True,
        )
        queued = 0
        for endpoint in endpoints:
            digest = hashlib.sha256(f"{event_id}\x1f{endpoint.id}".encode()).hexdigest()[:16]
            delivery = WebhookDelivery(
                tenant_id=tenant_id,
                id=f"{stamp(now)}-{digest}",
                endpoint_id=endpoint.id,
                event_type=event_type,
                event_id=event_id,
                body=body,
                created_at=now,
                next_attempt_at=now,
            )
            try:
                self.records.store.write(
                    self._claim(tenant_id, event_id, endpoint.id), self.records.create_op(delivery)
                )
            except ConditionFailed:
                continue  # this event already went to this endpoint
            self._enqueue(delivery, 0)
            queued += 1
        log.info("webhook.published", event_type=event_type, deliveries=queued)
        return queued

    def _claim(self, tenant_id: str, event_id: str, endpoint_id: str) -> Any:
        return self.records.event_claim(tenant_id, f"webhook:{event_id}:{endpoint_id}", self.clock.now())

    def _enqueue(self, delivery: WebhookDelivery, delay_s: int) -> None:
        message = DeliveryMessage(tenant_id=delivery.tenant_id, delivery_id=delivery.id)
        try:
            self.queue.send(QueueMessage(body=message.model_dump_json(), group=delivery.tenant_id), delay_s)
        except Exception:  # the record stays pending: `outreach webhooks redeliver` sends it
            log.exception("webhook.enqueue_failed", delivery_id=delivery.id)


class WebhookService(WebhookPublisher):
    """Endpoints, delivery (signs with the endpoint's secret, POSTs, retries) and the delivery log."""

    def __init__(
        self,
        records: Records,
        clock: Clock,
        queue: MessageSink,
        transport: WebhookTransport,
        secrets: SecretSource,
        config: WebhookConfig | None = None,
    ) -> None:
        super().__init__(records, clock, queue)
        self.transport = transport
        self.secrets = secrets
        self.config = config or WebhookConfig()
        self.audit = AuditTrail(records)

    # --- endpoints -----------------------------------------------------------------------------------

    def add_endpoint(
        self, tenant_id: str, endpoint_id: str, url: str, secret_ref: str, events: tuple[str, ...] = ()
    ) -> WebhookEndpoint:
        self.records.tenant(tenant_id)
        endpoint = WebhookEndpoint(
            tenant_id=tenant_id,
            id=endpoint_id,
            url=url,
            secret_ref=secret_ref,
            events=events,
            created_at=self.clock.now(),
        )
        created = self.records.create(endpoint)
        self.audit.record(
            tenant_id,
            self.clock.now(),
            "operator",
            "webhook.add",
            endpoint_id,
            url.split("?", 1)[0],
            events=",".join(events) or "all",
        )
        return created

    def remove_endpoint(self, tenant_id: str, endpoint_id: str) -> None:
        endpoint = self.records.get(WebhookEndpoint, tenant_id, endpoint_id)
        self.records.store.write(self.records.delete_op(endpoint))
        self.audit.record(tenant_id, self.clock.now(), "operator", "webhook.remove", endpoint_id)

    def endpoints(self, tenant_id: str) -> list[WebhookEndpoint]:
        self.records.tenant(tenant_id)
        return self.records.all(WebhookEndpoint, tenant_id)

    # --- delivering ----------------------------------------------------------------------------------

    def handle(self, message: ReceivedMessage) -> DeliveryResult:
        try:
            ref = DeliveryMessage.model_validate_json(message.body)
        except ValidationError:
            log.error("webhook.malformed_message", message_id=message.message_id)
            return DeliveryResult("skipped", detail="malformed message")
        return self.deliver(ref.tenant_id, ref.delivery_id)

    def deliver(self, tenant_id: str, delivery_id: str) -> DeliveryResult:
        delivery = self.records.find(WebhookDelivery, tenant_id, delivery_id)
        if delivery is None or delivery.status is not DeliveryStatus.PENDING:
            return DeliveryResult("skipped", delivery_id, detail="no pending delivery")
        endpoint = self.records.find(WebhookEndpoint, tenant_id, delivery.endpoint_id)
        number = len(delivery.attempts) + 1
        now = self.clock.now()
        if endpoint is None or not endpoint.enabled:
            return self._record(
                delivery, Attempt(number=number, at=now, status_code=0, detail="endpoint removed"), final=True
            )
        body = delivery.body.encode()
        timestamp = int(now.timestamp())
        try:
            secret = self.secrets.resolve(endpoint.secret_ref)
        except SecretUnavailable as exc:
            return self._record(
                delivery, Attempt(number=number, at=now, status_code=0, detail=str(exc)[:200])
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "outreach-webhooks/1",
            EVENT_HEADER: delivery.event_type,
            DELIVERY_HEADER: delivery.id,
            ATTEMPT_HEADER: str(number),
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, body),
        }
        answer = self.transport.post(endpoint.url, body, headers)
        detail = redact_addresses(answer.detail)[:200]
        return self._record(
            delivery, Attempt(number=number, at=now, status_code=answer.status, detail=detail)
        )

    def _record(self, delivery: WebhookDelivery, attempt: Attempt, *, final: bool = False) -> DeliveryResult:
        attempts = (*delivery.attempts, attempt)[-MAX_LOGGED_ATTEMPTS:]
        tries = attempt.number - delivery.round_start  # this round's attempts (a redelivery starts one)
        if 200 <= attempt.status_code < 300:
            done = delivery.model_copy(
                update={
                    "status": DeliveryStatus.DELIVERED,
                    "attempts": attempts,
                    "delivered_at": attempt.at,
                    "next_attempt_at": None,
                }
            )
            self.records.replace(done)
            log.info("webhook.delivered", delivery_id=delivery.id, attempt=attempt.number)
            return DeliveryResult("delivered", delivery.id, attempt.status_code)
        exhausted = final or tries >= self.config.max_attempts
        if exhausted:
            dead = delivery.model_copy(
                update={"status": DeliveryStatus.DEAD_LETTERED, "attempts": attempts, "next_attempt_at": None}
            )
            self.records.replace(dead)
            log.warning("webhook.dead_lettered", delivery_id=delivery.id, attempts=tries)
            return DeliveryResult("dead_lettered", delivery.id, attempt.status_code, attempt.detail)
        wait = retry_after(self.config, tries)
        pending = delivery.model_copy(update={"attempts": attempts, "next_attempt_at": attempt.at + wait})
        self.records.replace(pending)
        self._enqueue(pending, int(wait.total_seconds()))
        log.info(
            "webhook.retrying",
            delivery_id=delivery.id,
            status=attempt.status_code,
            wait_s=wait.total_seconds(),
        )
        return DeliveryResult("retrying", delivery.id, attempt.status_code, attempt.detail)

    # --- the delivery log ----------------------------------------------------------------------------

    def deliveries(
        self, tenant_id: str, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        self.records.tenant(tenant_id)
        rows = self.records.all(WebhookDelivery, tenant_id)
        rows = [d for d in rows if status is None or d.status is status]
        return rows[-limit:]

    def redeliver(self, tenant_id: str, delivery_ids: list[str] | None, actor: str = "operator") -> int:
        """Send deliveries again (all dead-lettered ones when no ids are given): same delivery id, the
        next attempt number, a fresh timestamp and signature, a full round of retries."""
        if delivery_ids:
            targets = [self.records.get(WebhookDelivery, tenant_id, i) for i in delivery_ids]
        else:
            targets = self.deliveries(tenant_id, DeliveryStatus.DEAD_LETTERED, limit=10_000)
        now = self.clock.now()
        moved = 0
        for delivery in targets:
            again = delivery.model_copy(
                update={
                    "status": DeliveryStatus.PENDING,
                    "redeliveries": delivery.redeliveries + 1,
                    "round_start": delivery.last.number if delivery.last else 0,
                    "next_attempt_at": now,
                    "delivered_at": None,
                }
            )
            try:
                self.records.replace(again)
            except ConditionFailed:
                continue
            self._enqueue(again, 0)
            moved += 1
            self.audit.record(tenant_id, now, actor, "webhook.redeliver", delivery.id, delivery.event_type)
        return moved


def announce(
    webhooks: WebhookPublisher | None, tenant_id: str, kind: str, subject: str, message: str, at: datetime
) -> None:
    """campaign.paused / identity.blocked: the subject is the campaign or identity id."""
    if webhooks is None:
        return
    field = "campaign_id" if kind == "campaign.paused" else "identity_id"
    data = {field: subject, "reason": message, "at": at.isoformat()}
    try:
        webhooks.publish(tenant_id, kind, f"{subject}:{at.isoformat()}", data)
    except Exception:  # a webhook must never stop a pause or a block
        log.exception("webhook.announce_failed", kind=kind)
