"""SNS signature verification with certificates generated here: genuine v1 and v2 messages pass; an
altered message, a foreign or http certificate URL, an expired certificate and the like are refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from adapters.sns import SnsEndpoint, SnsMessage, SnsVerificationError, SnsVerifier
from tests.fakes import T0, ManualClock
from tests.sns_signing import (
    CERT_URL,
    REGION,
    TOPIC,
    FakeFetcher,
    body,
    confirmation,
    make_certificate,
    new_key,
    notification,
    sign,
)

SES_EVENT = json.dumps({"eventType": "Delivery", "mail": {"messageId": "m-1"}, "delivery": {}})


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def fetcher(key: rsa.RSAPrivateKey) -> FakeFetcher:
    return FakeFetcher({CERT_URL: make_certificate(key)})


@pytest.fixture
def verifier(fetcher: FakeFetcher) -> SnsVerifier:
    return SnsVerifier(ManualClock(T0 + timedelta(seconds=30)), topic_arns={TOPIC}, fetch=fetcher)


def refused(verifier: SnsVerifier, fields: dict[str, object]) -> str:
    with pytest.raises(SnsVerificationError) as caught:
        verifier.verify(SnsMessage.parse(fields))
    return str(caught.value)


@pytest.mark.parametrize("version", ["1", "2"])
def test_genuine_messages_of_both_signature_versions_are_accepted(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey, version: str
) -> None:
    verifier.verify(SnsMessage.parse(body(sign(notification(SES_EVENT), key, version))))
    verifier.verify(
        SnsMessage.parse(sign(notification(SES_EVENT, subject="Amazon SES Email Event"), key, version))
    )
    verifier.verify(SnsMessage.parse(sign(confirmation(), key, version)))


def test_the_canonical_string_uses_the_documented_keys_in_order() -> None:
    fields = notification("hello\nworld", subject="S")
    message = SnsMessage.parse({**fields, "SignatureVersion": "1", "Signature": "x", "Token": "ignored"})
    assert message.string_to_sign().decode() == (
        f"Message\nhello\nworld\nMessageId\n{fields['MessageId']}\nSubject\nS\n"
        f"Timestamp\n{fields['Timestamp']}\nTopicArn\n{TOPIC}\nType\nNotification\n"
    )
    without_subject = SnsMessage.parse({**notification("m"), "SignatureVersion": "1", "Subject": None})
    assert b"Subject" not in without_subject.string_to_sign()


@pytest.mark.parametrize(
    "change",
    [
        {"Message": SES_EVENT.replace("Delivery", "Bounce")},
        {"Subject": "added later"},
        {"MessageId": "another-id"},
        {"Timestamp": (T0 + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.000Z")},
        {
            "Type": "SubscriptionConfirmation",
            "Token": "t",
            "SubscribeURL": "https://sns.eu-west-1.amazonaws.com/",
        },
    ],
)
def test_an_altered_message_is_refused(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey, change: dict[str, str]
) -> None:
    signed = sign(notification(SES_EVENT), key, "2")
    assert "altered or forged" in refused(verifier, {**signed, **change})


def test_a_signature_made_with_another_key_is_refused(verifier: SnsVerifier) -> None:
    assert "altered or forged" in refused(verifier, sign(notification(SES_EVENT), new_key(), "1"))


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem", "is not sns.<region>.amazonaws.com"),
        ("https://evil.example/SimpleNotificationService-1.pem", "is not sns.<region>.amazonaws.com"),
        (
            "https://s3.amazonaws.com/sns.eu-west-1.amazonaws.com/cert.pem",
            "is not sns.<region>.amazonaws.com",
        ),
        ("https://sns.us-east-1.amazonaws.com/SimpleNotificationService-1.pem", "not in the topic's region"),
        ("https://sns.eu-west-1.amazonaws.com:8443/SimpleNotificationService-1.pem", "port"),
        ("https://sns.eu-west-1.amazonaws.com/cert.txt", "does not name a .pem file"),
    ],
)
def test_a_certificate_on_a_foreign_host_is_refused_without_fetching_it(
    verifier: SnsVerifier, fetcher: FakeFetcher, key: rsa.RSAPrivateKey, url: str, why: str
) -> None:
    fetcher.documents[url] = fetcher.documents[CERT_URL]  # even a valid certificate there is not trusted
    signed = sign(notification(SES_EVENT, SigningCertURL=url), key)
    assert why in refused(verifier, signed)
    assert fetcher.fetched == []


def test_an_http_certificate_url_is_refused(
    verifier: SnsVerifier, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    url = CERT_URL.replace("https://", "http://")
    assert "not https" in refused(verifier, sign(notification(SES_EVENT, SigningCertURL=url), key))
    assert fetcher.fetched == []


def test_an_expired_certificate_is_refused(key: rsa.RSAPrivateKey) -> None:
    expired = FakeFetcher({CERT_URL: make_certificate(key, not_before=T0 - timedelta(days=400), days=365)})
    verifier = SnsVerifier(ManualClock(T0), topic_arns={TOPIC}, fetch=expired)
    assert "not valid now" in refused(verifier, sign(notification(SES_EVENT), key, "2"))


def test_a_certificate_not_yet_valid_is_refused(key: rsa.RSAPrivateKey) -> None:
    future = FakeFetcher({CERT_URL: make_certificate(key, not_before=T0 + timedelta(days=1))})
    verifier = SnsVerifier(ManualClock(T0), topic_arns={TOPIC}, fetch=future)
    assert "not valid now" in refused(verifier, sign(notification(SES_EVENT), key))


def test_the_certificate_is_fetched_once_and_cached(
    verifier: SnsVerifier, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    for n in range(3):
        verifier.verify(SnsMessage.parse(sign(notification(SES_EVENT, MessageId=f"m{n}"), key)))
    assert fetcher.fetched == [CERT_URL]


def test_a_topic_we_did_not_subscribe_to_is_refused(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    other = f"arn:aws:sns:{REGION}:999999999999:someone-elses-topic"
    assert "not one of ours" in refused(verifier, sign(notification(SES_EVENT, TopicArn=other), key))


def test_without_an_allowed_topic_nothing_is_accepted(fetcher: FakeFetcher, key: rsa.RSAPrivateKey) -> None:
    verifier = SnsVerifier(ManualClock(T0), topic_arns=set(), fetch=fetcher)
    assert "OUTREACH_SNS_TOPIC_ARNS" in refused(verifier, sign(notification(SES_EVENT), key))


def test_an_old_message_is_refused_as_a_replay(fetcher: FakeFetcher, key: rsa.RSAPrivateKey) -> None:
    verifier = SnsVerifier(ManualClock(T0 + timedelta(hours=3)), topic_arns={TOPIC}, fetch=fetcher)
    assert "older than" in refused(verifier, sign(notification(SES_EVENT), key))


def test_an_unknown_signature_version_is_refused(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    signed = sign(notification(SES_EVENT), key)
    assert "unsupported SignatureVersion" in refused(verifier, {**signed, "SignatureVersion": "3"})


def test_the_lambda_spelling_of_the_certificate_url_is_accepted(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey
) -> None:
    signed = sign(notification(SES_EVENT), key)
    record = {k: v for k, v in signed.items() if k != "SigningCertURL"}
    record.update(SigningCertUrl=CERT_URL, Subject=None, MessageAttributes={})
    verifier.verify(SnsMessage.parse(record))


# --- the endpoint ------------------------------------------------------------------------------------


def test_the_endpoint_hands_on_genuine_notifications_only(
    verifier: SnsVerifier, key: rsa.RSAPrivateKey
) -> None:
    received: list[str] = []
    endpoint = SnsEndpoint(verifier, received.append)
    assert endpoint.handle(body(sign(notification(SES_EVENT), key, "2"))).status == 200
    forged = {**sign(notification(SES_EVENT), key), "Message": '{"eventType":"Complaint"}'}
    answer = endpoint.handle(body(forged))
    assert (answer.status, answer.text) == (
        403,
        "rejected: signature does not match the message (altered or forged)",
    )
    assert endpoint.handle(b"<html>").status == 400
    assert received == [SES_EVENT]


def test_the_endpoint_confirms_a_genuine_subscription(
    verifier: SnsVerifier, fetcher: FakeFetcher, key: rsa.RSAPrivateKey
) -> None:
    confirmed: list[str] = []
    endpoint = SnsEndpoint(verifier, lambda _: None, confirm=confirmed.append)
    fields = confirmation()
    assert endpoint.handle(body(sign(fields, key))).status == 200
    assert confirmed == [fields["SubscribeURL"]]


def test_a_subscribe_url_off_sns_is_never_visited(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    confirmed: list[str] = []
    endpoint = SnsEndpoint(verifier, lambda _: None, confirm=confirmed.append)
    answer = endpoint.handle(body(sign(confirmation(subscribe_url="https://evil.example/confirm"), key)))
    assert answer.status == 403
    assert confirmed == []


def test_a_failure_while_applying_asks_sns_to_retry(verifier: SnsVerifier, key: rsa.RSAPrivateKey) -> None:
    def broken(_: str) -> None:
        raise RuntimeError("database is locked")

    assert SnsEndpoint(verifier, broken).handle(body(sign(notification(SES_EVENT), key))).status == 500
