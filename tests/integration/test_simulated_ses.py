"""The simulated SES: mailbox-simulator addresses, outcome rates, and SES-shaped events end to end."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.feedback_ingest import EventIngestor
from adapters.ses_events import MalformedEventError, parse_event
from adapters.simulated_ses import OutcomeRates, SimulatedSesMailer, SimulatorProfile
from outreach_core.domain.events import BounceKind, EventType
from outreach_core.domain.mail import Address, MailThrottled, OutboundEmail
from tests.fakes import FakeQueue, InMemoryArchive, ManualClock
from tests.harness import Harness, harness, seed_tenant


def outbound(to: str, job: str = "c_l_1", sender: str = "ann@acme-mail.com") -> OutboundEmail:
    return OutboundEmail(
        sender=Address(email=sender),
        recipient=Address(email=to),
        subject="S",
        text="T",
        message_id="<k@acme-mail.com>",
        tags={"tenant": "acme", "campaign": "c", "job": job},
    )


def events_for(mailer: SimulatedSesMailer, queue: FakeQueue, clock: ManualClock) -> list[dict]:  # type: ignore[type-arg]
    clock.advance(timedelta(days=8))
    bodies = []
    while batch := queue.receive(100):
        bodies += [json.loads(m.body) for m in batch]
    return bodies


@pytest.fixture
def sim() -> tuple[SimulatedSesMailer, FakeQueue, ManualClock]:
    clock = ManualClock()
    queue = FakeQueue(clock, max_delay_seconds=7 * 86400)
    return SimulatedSesMailer(queue, clock, SimulatorProfile(default=OutcomeRates())), queue, clock


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("success", ["Send", "Delivery"]),
        ("bounce", ["Send", "Bounce"]),
        ("complaint", ["Send", "Delivery", "Complaint"]),
        ("suppressionlist", ["Send", "Bounce"]),
        ("success+label", ["Send", "Delivery"]),
    ],
)
def test_mailbox_simulator_addresses(
    sim: tuple[SimulatedSesMailer, FakeQueue, ManualClock], local: str, expected: list[str]
) -> None:
    mailer, queue, clock = sim
    receipt = mailer.send(outbound(f"{local}@simulator.amazonses.com"))
    assert receipt.rfc_message_id == f"<{receipt.provider_message_id}@email.amazonses.com>"
    events = events_for(mailer, queue, clock)
    assert sorted(e["eventType"] for e in events) == sorted(expected)
    assert all(e["mail"]["messageId"] == receipt.provider_message_id for e in events)
    assert all(e["mail"]["tags"]["tenant"] == ["acme"] for e in events)


def test_ooto_delivers_and_sends_an_automatic_reply(
    sim: tuple[SimulatedSesMailer, FakeQueue, ManualClock],
) -> None:
    mailer, queue, clock = sim
    mailer.send(outbound("ooto@simulator.amazonses.com"))
    events = events_for(mailer, queue, clock)
    replies = [e["inboundReply"] for e in events if "inboundReply" in e]
    assert len(replies) == 1 and replies[0]["autoSubmitted"] is True


def test_the_suppression_list_bounce_normalises_as_not_counting(
    sim: tuple[SimulatedSesMailer, FakeQueue, ManualClock],
) -> None:
    mailer, queue, clock = sim
    mailer.send(outbound("suppressionlist@simulator.amazonses.com"))
    bounce = next(e for e in events_for(mailer, queue, clock) if e["eventType"] == "Bounce")
    [event] = parse_event(bounce)
    assert event.bounce_kind is BounceKind.HARD and not event.counts_as_bounce


def test_rates_are_reproducible_and_roughly_honoured() -> None:
    clock = ManualClock()
    queue = FakeQueue(clock, max_delay_seconds=7 * 86400)
    profile = SimulatorProfile(seed="s", default=OutcomeRates(bounce=0.2))
    mailer = SimulatedSesMailer(queue, clock, profile)
    for n in range(500):
        mailer.send(outbound(f"user{n}@corp-x.com", job=f"j{n}"))
    bounces = sum(1 for e in events_for(mailer, queue, clock) if e.get("eventType") == "Bounce")
    assert 70 <= bounces <= 130
    again = SimulatedSesMailer(FakeQueue(clock, max_delay_seconds=7 * 86400), clock, profile)
    assert [
        again._fate(outbound(f"user{n}@corp-x.com", job=f"j{n}"), profile.default) for n in range(50)
    ] == [mailer._fate(outbound(f"user{n}@corp-x.com", job=f"j{n}"), profile.default) for n in range(50)]


def test_sender_overrides_and_injected_throttling() -> None:
    clock = ManualClock()
    queue = FakeQueue(clock, max_delay_seconds=7 * 86400)
    profile = SimulatorProfile(
        default=OutcomeRates(), senders={"bad@acme-mail.com": OutcomeRates(throttle=1.0)}
    )
    mailer = SimulatedSesMailer(queue, clock, profile)
    with pytest.raises(MailThrottled):
        mailer.send(outbound("x@corp-x.com", sender="bad@acme-mail.com"))
    mailer.send(outbound("x@corp-x.com"))
    assert len(mailer.ledger) == 1


class TestParser:
    def test_legacy_notification_type_is_accepted(self) -> None:
        [event] = parse_event(
            {
                "notificationType": "Delivery",
                "mail": {
                    "messageId": "m1",
                    "timestamp": "2026-01-05T09:00:00.000Z",
                    "destination": ["a@b.com"],
                },
                "delivery": {"timestamp": "2026-01-05T09:00:02.000Z", "recipients": ["a@b.com"]},
            }
        )
        assert event.event_type is EventType.DELIVERED and event.tenant_id is None

    def test_unknown_types_are_unknown_not_errors(self) -> None:
        [event] = parse_event(
            {"eventType": "Teleport", "mail": {"messageId": "m1", "timestamp": "2026-01-05T09:00:00Z"}}
        )
        assert event.event_type is EventType.UNKNOWN

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ("{", "not JSON"),
            ("[]", "JSON object"),
            ('{"mail": {"messageId": "m"}}', "eventType"),
            ('{"eventType": "Bounce", "mail": {}}', "messageId"),
            (
                '{"eventType": "Bounce", "mail": {"messageId": "m", "timestamp": "2026-01-05T09:00:00Z"}, '
                '"bounce": {"bounceType": "Permanent", "bouncedRecipients": []}}',
                "bouncedRecipients",
            ),
        ],
    )
    def test_malformed_payloads_say_what_is_wrong(self, payload: str, message: str) -> None:
        with pytest.raises(MalformedEventError, match=message):
            parse_event(payload)


def test_ingest_archives_a_batch_per_tenant_and_reports_bad_payloads(tmp_path: Path) -> None:
    h: Harness = harness(tmp_path)
    seed_tenant(h, leads=["ann@corp-x.com"])
    h.tick_and_send()
    [job] = h.records.jobs("acme")
    good = json.dumps(
        {
            "eventType": "Delivery",
            "mail": {
                "messageId": job.provider_message_id,
                "timestamp": "2026-01-05T09:10:00Z",
                "tags": {"tenant": ["acme"], "job": [job.job_id]},
            },
            "delivery": {"timestamp": "2026-01-05T09:10:02Z", "recipients": ["ann@corp-x.com"]},
        }
    )
    archive = InMemoryArchive()
    ingestor = EventIngestor(archive, h.feedback, h.replies, h.clock)
    report = ingestor.ingest([good, "not json", good])
    assert report.applied == 1 and report.duplicates == 1 and [i for i, _ in report.rejected] == [1]
    [(key, blob)] = [(k, b) for k, b in archive.blobs.items() if k.startswith("events/acme/")]
    assert key.startswith("events/acme/2026/01/05/") and key.endswith(".jsonl.gz")
    assert len(gzip.decompress(blob).splitlines()) == 2
    # The payload that is not JSON is kept too, as it came, under its own prefix.
    [kept] = [b for k, b in archive.blobs.items() if k.startswith("events/_rejected/")]
    assert json.loads(gzip.decompress(kept))["unreadable"] == "not json"
    assert report.results[0].applied and h.records.jobs("acme")[0].status.value == "delivered"
