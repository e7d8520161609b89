"""The SES fixture corpus (tests/fixtures/ses, from the AWS documentation examples) normalises to the
expected DeliveryEvents; malformed payloads are refused with a reason that names the problem."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.ses_events import MalformedEventError, parse_event
from outreach_core.domain.events import BounceKind, EventType

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ses"
MID = "EXAMPLE7c191be45-e9aedb9a-02f9-4d12-a87d-dd0099a07f8a-000000"
R = "recipient@example.com"

# file -> one dict per expected event (in order), each listing the fields that must match
EXPECTED: dict[str, list[dict[str, Any]]] = {
    "send.json": [{"event_type": EventType.SENT, "recipient": R}],
    "delivery.json": [
        {
            "event_type": EventType.DELIVERED,
            "recipient": R,
            "status_code": "2.6.0",
            "diagnostic": "250 2.6.0 Message received",
            "timestamp": datetime(2016, 10, 19, 23, 21, 4, 133000, tzinfo=UTC),
            "subject": "Message sent from Amazon SES",
            "rfc_message_id": f"<{MID}@email.amazonses.com>",
        }
    ],
    "bounce_permanent_general.json": [
        {
            "event_type": EventType.BOUNCE,
            "bounce_kind": BounceKind.HARD,
            "bounce_subtype": "General",
            "status_code": "5.1.1",
            "diagnostic": "smtp; 550 5.1.1 user unknown",
            "counts_as_bounce": True,
        }
    ],
    "bounce_permanent_on_account_suppression_list.json": [
        {
            "bounce_kind": BounceKind.HARD,
            "bounce_subtype": "OnAccountSuppressionList",
            "counts_as_bounce": False,
        }
    ],
    "bounce_transient_mailbox_full.json": [
        {"bounce_kind": BounceKind.SOFT, "bounce_subtype": "MailboxFull", "status_code": "5.2.2"}
    ],
    "bounce_undetermined.json": [
        {"bounce_kind": BounceKind.UNDETERMINED, "bounce_subtype": "Undetermined", "status_code": ""}
    ],
    "bounce_permanent_two_recipients.json": [
        {"recipient": R, "bounce_subtype": "NoEmail", "status_code": "5.1.1"},
        {"recipient": "second@example.com", "bounce_subtype": "NoEmail", "status_code": "5.1.2"},
    ],
    "complaint_abuse.json": [
        {
            "event_type": EventType.COMPLAINT,
            "complaint_type": "abuse",
            "complaint_subtype": "",
            "counts_as_complaint": True,
        }
    ],
    "complaint_on_account_suppression_list.json": [
        {
            "event_type": EventType.COMPLAINT,
            "complaint_type": "",
            "complaint_subtype": "OnAccountSuppressionList",
            "counts_as_complaint": False,
        }
    ],
    "delivery_delay.json": [
        {
            "event_type": EventType.DEFERRED,
            "delay_type": "TransientCommunicationFailure",
            "status_code": "4.4.1",
            "diagnostic": "smtp; 421 4.4.1 Unable to connect to remote host",
        }
    ],
    "reject.json": [
        {"event_type": EventType.REJECT, "recipient": "sender@example.com", "diagnostic": "Bad content"}
    ],
    "rendering_failure.json": [
        {
            "event_type": EventType.RENDERING_FAILURE,
            "provider_event_type": "Rendering Failure",
            "diagnostic": "MyTemplate: Attribute 'attributeName' is not present in the rendering data.",
        }
    ],
    "subscription.json": [
        {
            "event_type": EventType.SUBSCRIPTION,
            "opted_out": True,
            "diagnostic": "UnsubscribeHeader",
            "message_id": "EXAMPLEe4bccb684-777bc8de-afa7-4970-92b0-f515137b1497-000000",
        }
    ],
    "open.json": [
        {
            "event_type": EventType.OPEN,
            "recipient": R,
            "timestamp": datetime(2017, 8, 9, 22, 0, 19, 652000, tzinfo=UTC),
        }
    ],
    "click.json": [
        {
            "event_type": EventType.CLICK,
            "diagnostic": "http://docs.aws.amazon.com/ses/latest/DeveloperGuide/send-email-smtp.html",
        }
    ],
    "legacy_notification_bounce.json": [
        {"event_type": EventType.BOUNCE, "bounce_kind": BounceKind.HARD, "tenant_id": None, "job_id": None}
    ],
    "unknown_type.json": [
        {"event_type": EventType.UNKNOWN, "provider_event_type": "Quarantine", "recipient": R}
    ],
}

MALFORMED: dict[str, str] = {
    "not_json.txt": "not JSON",
    "array_not_object.json": "an SES event is a JSON object, not list",
    "no_event_type.json": "neither eventType nor notificationType is present",
    "no_message_id.json": "Bounce: mail.messageId is missing",
    "bounce_object_missing.json": "Bounce: the bounce object is missing",
    "bounce_without_recipients.json": "Bounce: bouncedRecipients must be a non-empty list of objects",
    "bounce_unknown_type.json": "Bounce: unknown bounceType 'Sideways'",
    "bounce_second_recipient_without_address.json": "bouncedRecipients[1].emailAddress is missing",
    "delivery_bad_timestamp.json": "Delivery timestamp: bad timestamp 'yesterday'",
    "complaint_not_an_object.json": "Complaint: the complaint object is not an object",
    "complaint_bad_address.json": "complainedRecipients[0].emailAddress is missing or not an address",
}


def test_the_corpus_covers_every_ses_event_type() -> None:
    files = {p.name for p in FIXTURES.glob("*.json")}
    assert files == set(EXPECTED), "every fixture has an expectation and every expectation a fixture"
    raw_types = {json.loads((FIXTURES / name).read_text()).get("eventType") for name in files} - {None}
    assert {
        "Send",
        "Delivery",
        "Bounce",
        "Complaint",
        "DeliveryDelay",
        "Reject",
        "Rendering Failure",
        "Subscription",
        "Open",
        "Click",
    } <= raw_types
    bounce_types = {
        json.loads((FIXTURES / n).read_text())["bounce"]["bounceType"]
        for n in files
        if n.startswith("bounce_")
    }
    assert bounce_types == {"Permanent", "Transient", "Undetermined"}
    assert set(MALFORMED) == {p.name for p in (FIXTURES / "malformed").iterdir()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_fixture_normalises_to_one_event_per_recipient(name: str) -> None:
    raw = (FIXTURES / name).read_text()
    events = parse_event(raw, payload_ref=f"mem://{name}#0")
    expected = EXPECTED[name]
    assert len(events) == len(expected)
    for event, fields in zip(events, expected, strict=True):
        assert event.message_id == fields.get("message_id", MID)
        assert event.provider_payload_ref == f"mem://{name}#0"
        for key, value in fields.items():
            assert getattr(event, key) == value, f"{name}: {key}"
    assert len({e.event_id for e in events}) == len(events), "recipients get distinct event ids"


def test_the_same_payload_always_yields_the_same_event_ids() -> None:
    raw = (FIXTURES / "bounce_permanent_two_recipients.json").read_text()
    first = [e.event_id for e in parse_event(raw)]
    again = [e.event_id for e in parse_event(json.loads(raw), payload_ref="elsewhere")]
    assert first == again


def test_different_events_of_one_message_get_different_ids() -> None:
    ids = {parse_event((FIXTURES / n).read_text())[0].event_id for n in EXPECTED if n != "subscription.json"}
    assert len(ids) == len(EXPECTED) - 1


def test_our_tags_route_the_event_to_its_job() -> None:
    payload = json.loads((FIXTURES / "delivery.json").read_text())
    payload["mail"]["tags"].update({"tenant": ["acme"], "campaign": ["spring"], "job": ["spring_l-1_1"]})
    (event,) = parse_event(payload)
    assert (event.tenant_id, event.campaign_id, event.job_id) == ("acme", "spring", "spring_l-1_1")


def test_an_unknown_permanent_subtype_is_still_a_hard_bounce() -> None:
    payload = json.loads((FIXTURES / "bounce_permanent_general.json").read_text())
    payload["bounce"]["bounceSubType"] = "UnsubscribedRecipient"
    (event,) = parse_event(payload)
    assert event.bounce_kind is BounceKind.HARD
    assert event.bounce_subtype == "UnsubscribedRecipient"


def test_a_topic_opt_in_is_not_an_unsubscribe() -> None:
    payload = json.loads((FIXTURES / "subscription.json").read_text())
    payload["subscription"]["newTopicPreferences"] = {
        "unsubscribeAll": False,
        "topicSubscriptionStatus": [{"topicName": "ExampleTopicName", "subscriptionStatus": "OptIn"}],
    }
    (event,) = parse_event(payload)
    assert event.opted_out is False


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_payloads_are_refused_with_a_clear_reason(name: str) -> None:
    with pytest.raises(MalformedEventError) as caught:
        parse_event((FIXTURES / "malformed" / name).read_bytes())
    assert MALFORMED[name] in str(caught.value)
