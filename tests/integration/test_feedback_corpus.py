"""The fixture corpus through the whole feedback path (archive, normalise, apply): every type has its
effect on jobs, leads and suppression, duplicates change nothing, and a bad payload writes nothing."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import LeadStatus
from outreach_core.domain.suppression import SuppressionReason, SuppressionScope
from tests.feedback_world import TENANT, World, build_world

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ses"
ANN, BOB, CAT = "ann@client.example", "bob@client.example", "cat@other.example"


def event_for(world: World, email: str, fixture: str, *, also: str = "") -> str:
    """The fixture, re-addressed to one of our sent jobs (its message id, tags and recipient)."""
    text = (FIXTURES / fixture).read_text().replace("recipient@example.com", email)
    if also:
        text = text.replace("second@example.com", also)
    payload = json.loads(text)
    job = world.job(email)
    assert job.provider_message_id
    payload["mail"]["messageId"] = job.provider_message_id
    payload["mail"].setdefault("tags", {}).update(
        {"tenant": [job.tenant_id], "campaign": [job.campaign_id], "job": [job.job_id]}
    )
    return json.dumps(payload)


def sent_world() -> World:
    world = build_world()
    world.send_due()
    assert {world.status(e) for e in (ANN, BOB, CAT)} == {JobStatus.SENT}
    return world


def test_a_hard_bounce_bounces_the_job_and_suppresses_the_address_in_the_tenant() -> None:
    world = sent_world()
    report = world.ingestor.ingest([event_for(world, ANN, "bounce_permanent_general.json")])
    assert (report.applied, report.rejected) == (1, [])
    assert world.status(ANN) is JobStatus.BOUNCED
    assert world.lead(ANN).status is LeadStatus.BOUNCED
    entry = world.records.suppression_for(TENANT, ANN)
    assert entry is not None and entry.reason is SuppressionReason.HARD_BOUNCE
    assert entry.scope is SuppressionScope.TENANT
    assert world.records.suppressions(SuppressionScope.GLOBAL) == []
    assert any(a.action == "suppression.add" for a in world.records.audit(TENANT))


def test_a_complaint_suppresses_in_the_tenant_and_globally() -> None:
    world = sent_world()
    world.ingestor.ingest(
        [event_for(world, BOB, "delivery.json"), event_for(world, BOB, "complaint_abuse.json")]
    )
    assert world.status(BOB) is JobStatus.COMPLAINED
    scopes = {e.scope for e in world.records.suppressions(SuppressionScope.GLOBAL)} | {
        e.scope for e in world.records.suppressions(SuppressionScope.TENANT, TENANT)
    }
    assert scopes == {SuppressionScope.TENANT, SuppressionScope.GLOBAL}


def test_a_duplicate_delivery_of_the_same_event_is_applied_once() -> None:
    world = sent_world()
    body = event_for(world, ANN, "bounce_transient_mailbox_full.json")
    first = world.ingestor.ingest([body, body])
    again = world.ingestor.ingest([body])
    assert (first.applied, first.duplicates, again.applied, again.duplicates) == (1, 1, 0, 1)
    counter, _ = world.records.state(TENANT, next(k for k in _sorts(world) if k.startswith("SOFT#")))
    assert counter == {"count": 1}


def test_each_type_moves_the_job_as_the_status_machine_says() -> None:
    world = sent_world()
    world.ingestor.ingest([event_for(world, ANN, "send.json"), event_for(world, ANN, "delivery_delay.json")])
    assert world.status(ANN) is JobStatus.SENT
    world.ingestor.ingest([event_for(world, ANN, "delivery.json"), event_for(world, ANN, "open.json")])
    world.ingestor.ingest([event_for(world, ANN, "click.json")])
    assert world.status(ANN) is JobStatus.DELIVERED
    world.ingestor.ingest([event_for(world, BOB, "reject.json")])
    assert world.status(BOB) is JobStatus.FAILED
    world.ingestor.ingest([event_for(world, CAT, "rendering_failure.json")])
    assert world.status(CAT) is JobStatus.FAILED
    assert "attributeName" in world.job(CAT).status_reason


def test_an_undetermined_bounce_changes_nothing_and_suppresses_nobody() -> None:
    world = sent_world()
    report = world.ingestor.ingest([event_for(world, ANN, "bounce_undetermined.json")])
    assert report.applied == 1
    assert world.status(ANN) is JobStatus.SENT
    assert world.records.suppression_for(TENANT, ANN) is None


def test_a_subscription_event_unsubscribes() -> None:
    world = sent_world()
    world.ingestor.ingest([event_for(world, CAT, "subscription.json")])
    entry = world.records.suppression_for(TENANT, CAT)
    assert entry is not None and entry.reason is SuppressionReason.UNSUBSCRIBE
    assert world.lead(CAT).status is LeadStatus.UNSUBSCRIBED


def test_an_unknown_type_is_archived_and_claimed_never_a_crash() -> None:
    world = sent_world()
    body = event_for(world, ANN, "unknown_type.json")
    report = world.ingestor.ingest([body])
    assert (report.applied, report.rejected) == (1, [])
    assert world.status(ANN) is JobStatus.SENT
    archived = b"".join(gzip.decompress(b) for b in world.archive.blobs.values())
    assert b'"eventType":"Quarantine"' in archived
    assert world.ingestor.ingest([body]).duplicates == 1


def test_a_bad_payload_is_rejected_alone_and_writes_nothing() -> None:
    world = sent_world()
    bad = event_for(world, ANN, "malformed/bounce_second_recipient_without_address.json", also=BOB)
    before = dict(world.store.items)
    report = world.ingestor.ingest([bad])
    assert [reason for _, reason in report.rejected] == [
        "Bounce: bouncedRecipients[1].emailAddress is missing or not an address"
    ]
    assert world.store.items == before, "not even the first, well-formed recipient was applied"
    good = event_for(world, CAT, "bounce_permanent_general.json")
    report = world.ingestor.ingest(["{not json", bad, good])
    assert [index for index, _ in report.rejected] == [0, 1]
    assert report.applied == 1
    assert world.status(CAT) is JobStatus.BOUNCED
    assert world.status(ANN) is JobStatus.SENT and world.records.suppression_for(TENANT, ANN) is None


def test_an_event_for_a_message_we_never_sent_is_reported_unmatched() -> None:
    world = sent_world()
    report = world.ingestor.ingest([(FIXTURES / "delivery.json").read_text()])
    assert (report.applied, report.unmatched) == (0, 1)


def _sorts(world: World) -> list[str]:
    return [sort for (partition, sort) in world.store.items if partition == f"T#{TENANT}"]
