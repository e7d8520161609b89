"""Unwrapping SES event JSON from the record shapes Lambda delivers (aws.md §3.4)."""

from __future__ import annotations

import json

from adapters.aws.lambda_events import ses_event_json

SES_EVENT = {"eventType": "Delivery", "mail": {"messageId": "0102abc-000000", "tags": {}}, "delivery": {}}


def sns_lambda_record(message: object) -> dict[str, object]:
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:eu-west-1:123456789012:outreach-ses-events:3f1b",
        "Sns": {
            "Type": "Notification",
            "MessageId": "95df01b4-ee98-5cb9-9903-4c221d41eb5e",
            "TopicArn": "arn:aws:sns:eu-west-1:123456789012:outreach-ses-events",
            "Subject": None,
            "Message": message,
            "Timestamp": "2026-01-05T09:00:00.000Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLE",
            "SigningCertUrl": "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
            "UnsubscribeUrl": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe",
            "MessageAttributes": {},
        },
    }


def test_the_sns_lambda_shape_gives_the_message_string() -> None:
    text = json.dumps(SES_EVENT)
    assert ses_event_json(sns_lambda_record(text)) == text


def test_a_message_delivered_as_an_object_is_serialised() -> None:
    assert json.loads(ses_event_json(sns_lambda_record(SES_EVENT))) == SES_EVENT


def test_sns_delivered_through_sqs_is_unwrapped_from_the_body() -> None:
    envelope = {"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:x", "Message": SES_EVENT}
    record = {"messageId": "q1", "receiptHandle": "r", "body": json.dumps(envelope), "attributes": {}}
    assert json.loads(ses_event_json(record)) == SES_EVENT
    envelope["Message"] = json.dumps(SES_EVENT)
    assert json.loads(ses_event_json({"body": json.dumps(envelope)})) == SES_EVENT


def test_a_raw_body_is_passed_on_for_the_ingestor_to_judge() -> None:
    assert ses_event_json({"body": "not json"}) == "not json"
    assert ses_event_json({"body": json.dumps(SES_EVENT)}) == json.dumps(SES_EVENT)
