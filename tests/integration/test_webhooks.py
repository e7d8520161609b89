"""Webhooks out against a local receiver: every event type delivered with a signature the receiver
verifies, a 500 retried with backoff, dead-lettered after the last attempt and redelivered by a person,
a replay recognisable, and the delivery log showing all of it (issue 14's fourth acceptance item)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType, InboundReply
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import IdentityStatus
from outreach_core.domain.webhooks import EVENT_TYPES, DeliveryStatus, signature, verify
from outreach_core.rendering.unsubscribe import sign
from outreach_core.services.webhooks import WebhookService
from tests.harness import Harness, harness, seed_tenant
from tests.webhook_receiver import Receiver, webhook_receiver

SECRET = "whsec-test-3f9a1c"
TENANT = "acme"


@pytest.fixture
def h(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Harness:
    monkeypatch.setenv("ACME_WEBHOOK_SECRET", SECRET)
    world = harness(tmp_path, webhook_max_attempts=3)
    seed_tenant(world, leads=[f"lead{n}@example-corp.com" for n in range(4)])
    world.tick_and_send()
    return world


@pytest.fixture
def receiver(h: Harness) -> Iterator[Receiver]:
    with webhook_receiver(SECRET, now=lambda: int(h.clock.now().timestamp())) as r:
        yield r


def service(h: Harness) -> WebhookService:
    webhooks = h.app.services.webhooks()
    assert webhooks is not None
    return webhooks


def deliver_due(h: Harness) -> list[str]:
    """What the worker (or the webhook Lambda) does with the webhook queue: each visible delivery once."""
    queue, outcomes = h.app.adapters.webhook_queue(), []
    while messages := queue.receive(10):
        for message in messages:
            outcomes.append(service(h).handle(message).outcome)
            queue.ack(message.receipt)
    return outcomes


def lead_job(h: Harness, n: int) -> MessageJob:
    lead_id = lead_id_for(TENANT, f"lead{n}@example-corp.com")
    return next(j for j in h.records.jobs(TENANT) if j.step == 1 and j.lead_id == lead_id)


def reply(h: Harness, n: int, text: str) -> None:
    job = lead_job(h, n)
    h.replies.handle(
        InboundReply(
            event_id=f"reply-{n}",
            tenant_id=TENANT,
            in_reply_to=job.rfc_message_id or "",
            sender=f"lead{n}@example-corp.com",
            received_at=h.clock.now(),
            subject="Re: Hello",
            text=text,
        )
    )


def test_every_event_type_is_delivered_signed_and_verified(h: Harness, receiver: Receiver) -> None:
    service(h).add_endpoint(TENANT, "crm", receiver.url, "env:ACME_WEBHOOK_SECRET")
    reply(h, 0, "Sounds interesting, can we talk on Thursday?")  # reply.received + lead.interested
    unsubscribe = h.app.services.unsubscribe()
    job1 = lead_job(h, 1)
    unsubscribe.unsubscribe(sign("test-secret", TENANT, job1.lead_id))
    job2 = lead_job(h, 2)
    h.feedback.handle(
        [
            DeliveryEvent(
                event_id="b-1",
                event_type=EventType.BOUNCE,
                message_id=job2.provider_message_id or "",
                timestamp=h.clock.now(),
                bounce_kind=BounceKind.HARD,
                status_code="5.1.1",
                diagnostic="550 5.1.1 user unknown",
                tenant_id=TENANT,
                job_id=job2.job_id,
            )
        ]
    )
    h.admin.pause_campaign(TENANT, "spring", "paused by operator")
    h.admin.set_identity_status(TENANT, "id1", IdentityStatus.BLOCKED, "complaints")
    assert set(deliver_due(h)) == {"delivered"}
    events = [json.loads(r.body) for r in receiver.requests]
    assert sorted(e["type"] for e in events) == sorted(EVENT_TYPES)
    assert all(r.verified and not r.repeat for r in receiver.requests)
    by_type = {e["type"]: e for e in events}
    assert by_type["lead.interested"]["data"]["lead_email"] == "lead0@example-corp.com"
    assert by_type["lead.bounced"]["data"]["reason"] == "hard_bounce"
    assert by_type["campaign.paused"]["data"]["campaign_id"] == "spring"
    assert by_type["identity.blocked"]["data"]["identity_id"] == "id1"
    assert {e["tenant_id"] for e in events} == {TENANT}
    log = service(h).deliveries(TENANT)
    assert len(log) == len(EVENT_TYPES) and {d.status for d in log} == {DeliveryStatus.DELIVERED}
    # the same event published again (a redelivered SNS message, a second poll) is not sent again
    reply(h, 0, "Sounds interesting, can we talk on Thursday?")
    assert deliver_due(h) == [] and len(receiver.requests) == len(EVENT_TYPES)


def test_a_500_is_retried_with_backoff_and_the_log_shows_every_attempt(
    h: Harness, receiver: Receiver
) -> None:
    service(h).add_endpoint(TENANT, "crm", receiver.url, "env:ACME_WEBHOOK_SECRET", ("campaign.paused",))
    receiver.script = [500]
    h.admin.pause_campaign(TENANT, "spring", "paused by operator")
    assert deliver_due(h) == ["retrying"]
    assert deliver_due(h) == []  # not before its backoff
    h.clock.advance(timedelta(seconds=31))
    assert deliver_due(h) == ["delivered"]
    [delivery] = service(h).deliveries(TENANT)
    assert [(a.number, a.status_code) for a in delivery.attempts] == [(1, 500), (2, 200)]
    assert delivery.attempts[1].at - delivery.attempts[0].at >= timedelta(seconds=30)
    first, second = receiver.requests
    assert first.headers["X-Outreach-Delivery"] == second.headers["X-Outreach-Delivery"] == delivery.id
    assert (first.headers["X-Outreach-Attempt"], second.headers["X-Outreach-Attempt"]) == ("1", "2")
    assert first.body == second.body and first.verified and second.verified


def test_dead_lettered_after_the_last_attempt_then_redelivered(h: Harness, receiver: Receiver) -> None:
    service(h).add_endpoint(TENANT, "crm", receiver.url, "env:ACME_WEBHOOK_SECRET", ("identity.blocked",))
    receiver.script = [500, 503, 500]
    h.admin.set_identity_status(TENANT, "id0", IdentityStatus.BLOCKED, "complaints")
    outcomes = deliver_due(h)
    for _ in range(4):
        h.clock.advance(timedelta(minutes=15))
        outcomes += deliver_due(h)
    assert outcomes == ["retrying", "retrying", "dead_lettered"]  # OUTREACH_WEBHOOK_MAX_ATTEMPTS=3
    [dead] = service(h).deliveries(TENANT, DeliveryStatus.DEAD_LETTERED)
    assert [a.status_code for a in dead.attempts] == [500, 503, 500]
    assert service(h).redeliver(TENANT, None) == 1
    assert deliver_due(h) == ["delivered"]
    [done] = service(h).deliveries(TENANT)
    assert (done.status, done.redeliveries, [a.number for a in done.attempts]) == (
        DeliveryStatus.DELIVERED,
        1,
        [1, 2, 3, 4],
    )
    actions = [a.action for a in h.records.audit(TENANT)]
    assert "webhook.redeliver" in actions


def test_a_replayed_delivery_is_recognisable(h: Harness, receiver: Receiver) -> None:
    service(h).add_endpoint(TENANT, "crm", receiver.url, "env:ACME_WEBHOOK_SECRET", ("campaign.paused",))
    h.admin.pause_campaign(TENANT, "spring", "paused by operator")
    assert deliver_due(h) == ["delivered"]
    [original] = receiver.requests
    # someone replays the captured request: the receiver has seen its delivery id ...
    assert receiver.check(original.headers, original.body).repeat
    # ... and ten minutes on its signed timestamp is stale, and changing the timestamp breaks the signature
    h.clock.advance(timedelta(minutes=10))
    assert not receiver.check(original.headers, original.body).verified
    fresh = int(h.clock.now().timestamp())
    forged = {**original.headers, "X-Outreach-Timestamp": str(fresh)}
    assert not receiver.check(forged, original.body).verified
    # a redelivery by us is the same delivery (same id), freshly signed
    [delivery] = service(h).deliveries(TENANT)
    service(h).redeliver(TENANT, [delivery.id])
    deliver_due(h)
    again = receiver.requests[-1]
    assert again.verified and again.repeat and again.headers["X-Outreach-Delivery"] == delivery.id


def test_the_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    body = b'{"type":"lead.interested"}'
    import hashlib
    import hmac

    expected = hmac.new(SECRET.encode(), b"1767603600." + body, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1767603600, body) == f"v1={expected}"
    assert verify(SECRET, 1767603600, body, f"v1={expected}", now=1767603600 + 60)
    assert not verify(SECRET, 1767603600, body + b" ", f"v1={expected}", now=1767603600)
    assert not verify("another-secret", 1767603600, body, f"v1={expected}", now=1767603600)


def test_a_missing_signing_secret_is_a_failed_attempt_that_names_the_reference(
    h: Harness, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACME_WEBHOOK_SECRET")
    service(h).add_endpoint(TENANT, "crm", receiver.url, "env:ACME_WEBHOOK_SECRET", ("campaign.paused",))
    h.admin.pause_campaign(TENANT, "spring", "paused by operator")
    assert deliver_due(h) == ["retrying"]
    [delivery] = service(h).deliveries(TENANT)
    assert "env:ACME_WEBHOOK_SECRET" in delivery.attempts[0].detail and receiver.requests == []
