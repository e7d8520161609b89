"""Stop on reply, end to end on the fakes: an SES receipt notification carrying a reply goes through the
ingestor; a person's reply ends the lead's sequence, an out-of-office only moves the next step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus
from outreach_core.domain.suppression import SuppressionReason
from outreach_core.rendering.reply_token import sign_reply
from tests.fakes import ScriptedMailer
from tests.feedback_world import SECRET, TENANT, World, build_world

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
ANN, BOB, CAT = "ann@client.example", "bob@client.example", "cat@other.example"


def reply_mime(world: World, name: str, email: str, *, sender: str | None = None) -> bytes:
    job = world.job(email)
    assert job.rfc_message_id
    raw = (CORPUS / name).read_bytes()
    raw = raw.replace(b"{{MESSAGE_ID}}", job.rfc_message_id.encode()).replace(
        b"{{REFERENCES}}", job.rfc_message_id.encode()
    )
    if sender:
        raw = raw.replace(b"<ann@client.example>", f"<{sender}>".encode(), 1)
    return raw


def receipt(raw: bytes, *, message_id: str, at: datetime, s3: tuple[str, str] | None = None) -> str:
    """An SES receipt notification: the message itself (SNS action) or where S3 stored it (S3 action)."""
    action = (
        {"type": "S3", "topicArn": "arn:aws:sns:eu-west-1:1:inbound", "bucketName": s3[0], "objectKey": s3[1]}
        if s3
        else {"type": "SNS", "topicArn": "arn:aws:sns:eu-west-1:1:inbound", "encoding": "UTF8"}
    )
    body: dict[str, object] = {
        "notificationType": "Received",
        "receipt": {
            "timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "recipients": ["ivan@acme.example"],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
            "action": action,
        },
        "mail": {"timestamp": at.isoformat(), "source": "ann@client.example", "messageId": message_id},
    }
    if not s3:
        body["content"] = raw.decode()
    return json.dumps(body)


def sent_world(**options: str) -> World:
    world = build_world(**options)  # type: ignore[arg-type]
    world.send_due()
    assert {world.status(e) for e in (ANN, BOB, CAT)} == {JobStatus.SENT}
    return world


def mailer(world: World) -> ScriptedMailer:
    assert isinstance(world.mailer, ScriptedMailer)
    return world.mailer


def test_a_real_reply_stops_the_sequence_and_an_out_of_office_only_postpones_it() -> None:
    world = sent_world()
    now = world.clock.now()
    report = world.ingestor.ingest(
        [
            receipt(reply_mime(world, "en_human_interested.eml", ANN), message_id="in-1", at=now),
            receipt(reply_mime(world, "en_ooo_exchange.eml", BOB, sender=BOB), message_id="in-2", at=now),
        ]
    )
    assert (report.replies, report.rejected) == (1, [])
    assert world.lead(ANN).status is LeadStatus.REPLIED
    assert world.lead(BOB).status is LeadStatus.ACTIVE
    actions = [(a.action, a.target) for a in world.records.audit(TENANT) if a.actor == "system:replies"]
    assert ("lead.replied", world.lead(ANN).id) in actions
    assert ("lead.auto_reply", world.lead(BOB).id) in actions

    world.clock.advance(timedelta(days=2, hours=1))  # step 2 comes due for everyone
    world.send_due()
    assert len(mailer(world).to(CAT)) == 2
    assert len(mailer(world).to(ANN)) == 1, "Ann replied: no follow-up"
    assert len(mailer(world).to(BOB)) == 1, "Bob is out until the 12th: his follow-up waits"

    world.clock.set(datetime(2026, 1, 13, 9, 30, tzinfo=UTC))
    world.send_due()
    assert len(mailer(world).to(BOB)) == 2, "Bob is back: the sequence goes on"
    assert len(mailer(world).to(ANN)) == 1


def test_a_reply_matched_only_by_references_still_stops_the_sequence() -> None:
    world = sent_world()
    raw = reply_mime(world, "ru_human_interested.eml", ANN).replace(
        f"In-Reply-To: {world.job(ANN).rfc_message_id}".encode(),
        b"In-Reply-To: <unknown@mail.client.example>",
    )
    world.ingestor.ingest([receipt(raw, message_id="in-3", at=world.clock.now())])
    assert world.lead(ANN).status is LeadStatus.REPLIED


def test_a_reply_token_in_reply_to_matches_when_the_headers_are_gone() -> None:
    world = sent_world(reply_to="reply+{reply_token}@in.acme.example")
    lead = world.lead(ANN)
    token = sign_reply(SECRET, TENANT, lead.id)
    assert mailer(world).to(ANN)[0].reply_to == f"reply+{token}@in.acme.example"
    bare = (
        "From: Ann <ann@client.example>\nTo: reply+" + token + "@in.acme.example\n"
        "Subject: your offer\nMessage-ID: <fresh-1@mail.client.example>\n\nYes, call me tomorrow.\n"
    ).encode()
    world.ingestor.ingest([receipt(bare, message_id="in-4", at=world.clock.now())])
    assert world.lead(ANN).status is LeadStatus.REPLIED
    forged = bare.replace(token.encode(), f"{TENANT}.{world.lead(BOB).id}.000000000000".encode())
    world.ingestor.ingest([receipt(forged, message_id="in-5", at=world.clock.now())])
    assert world.lead(BOB).status is LeadStatus.ACTIVE, "a forged token matches nobody"


def test_a_reply_asking_to_be_removed_unsubscribes() -> None:
    world = sent_world()
    world.ingestor.ingest(
        [receipt(reply_mime(world, "ru_unsubscribe.eml", ANN), message_id="in-6", at=world.clock.now())]
    )
    entry = world.records.suppression_for(TENANT, ANN)
    assert entry is not None and entry.reason is SuppressionReason.UNSUBSCRIBE
    assert world.lead(ANN).status is LeadStatus.UNSUBSCRIBED


def test_the_same_reply_delivered_twice_is_applied_once() -> None:
    world = sent_world()
    body = receipt(
        reply_mime(world, "en_human_not_interested.eml", ANN), message_id="in-7", at=world.clock.now()
    )
    world.ingestor.ingest([body])
    world.ingestor.ingest([body])
    replied = [a for a in world.records.audit(TENANT) if a.action == "lead.replied"]
    assert len(replied) == 1


def test_our_own_copies_and_machine_mail_stop_nothing() -> None:
    world = sent_world()
    own = reply_mime(world, "en_human_interested.eml", ANN, sender="ivan@acme.example")
    dsn = reply_mime(world, "en_dsn_bounce.eml", ANN).replace(
        b"Auto-Submitted", f"In-Reply-To: {world.job(ANN).rfc_message_id}\nAuto-Submitted".encode(), 1
    )
    ticket = reply_mime(world, "en_ticket_acknowledgement.eml", ANN)
    at = world.clock.now()
    report = world.ingestor.ingest(
        [
            receipt(own, message_id="in-8", at=at),
            receipt(dsn, message_id="in-9", at=at),
            receipt(ticket, message_id="in-10", at=at),
        ]
    )
    assert (report.replies, report.rejected) == (0, [])
    assert world.lead(ANN).status is LeadStatus.ACTIVE


def test_a_message_stored_in_s3_is_read_through_the_inbound_reader() -> None:
    world = sent_world()
    stored = {("inbound-mail", "inbound/abc123"): reply_mime(world, "en_human_interested.eml", ANN)}
    world.ingestor.inbound_reader = lambda bucket, key: stored[(bucket, key)]
    world.ingestor.ingest(
        [receipt(b"", message_id="abc123", at=world.clock.now(), s3=("inbound-mail", "inbound/abc123"))]
    )
    assert world.lead(ANN).status is LeadStatus.REPLIED
    world.ingestor.inbound_reader = None
    report = world.ingestor.ingest(
        [receipt(b"", message_id="abc124", at=world.clock.now(), s3=("inbound-mail", "inbound/abc124"))]
    )
    assert report.rejected == [(0, "Received: the message is in S3 and no inbound reader is configured")]


def test_a_reply_cancels_the_leads_queued_jobs() -> None:
    world = sent_world()
    world.clock.advance(timedelta(days=2, hours=1))
    world.plan()  # step 2 is claimed and queued, not yet sent
    assert world.status(ANN, 2) is JobStatus.QUEUED
    world.ingestor.ingest(
        [receipt(reply_mime(world, "en_human_interested.eml", ANN), message_id="in-11", at=world.clock.now())]
    )
    assert world.status(ANN, 2) is JobStatus.CANCELLED
    world.send_due()
    assert len(mailer(world).to(ANN)) == 1
