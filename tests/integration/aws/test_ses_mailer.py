"""SesMailer against moto (the happy path, messages inspected in moto's SES) and botocore's Stubber
(every error class of aws.md §1.4), plus real sockets on 127.0.0.1 for the network failures."""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email import policy
from typing import Any

import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from adapters.aws.ses_mailer import DAILY_QUOTA_RETRY, SesMailer, email_tags, rfc_message_id
from outreach_core.domain.mail import (
    Address,
    MailError,
    MailOutcomeUnknown,
    MailRejected,
    MailSendingPaused,
    MailThrottled,
    MailTransientError,
    OutboundEmail,
)
from tests.fakes import ManualClock
from tests.integration.aws import moto_env


def outbound(**changes: Any) -> OutboundEmail:
    base = OutboundEmail(
        sender=Address(email="alex@northwind.test", name="Алекс Тёрнер"),
        recipient=Address(email="dana@customer.test", name="Dana Reyes"),
        subject="Вопрос о вашей команде",
        text="Здравствуйте, Dana!\n\nOne question about your reporting.",
        message_id="<job-1.alex@northwind.test>",
        headers={
            "List-Unsubscribe": "<https://u.northwind.test/unsubscribe/tok>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "In-Reply-To": "<0102019000000000-aaaa-000000@eu-west-1.amazonses.com>",
            "References": "<0102019000000000-aaaa-000000@eu-west-1.amazonses.com>",
            "X-Outreach-Ref": "r1.opaque-reference",
        },
        tags={"tenant": "northwind", "campaign": "audit", "job": "audit_lead-1_1", "ikey": "9f86d081"},
    )
    return base.model_copy(update=changes)


@pytest.fixture
def moto_ses() -> Iterator[Any]:
    with moto_env.fake_aws_env(), mock_aws():
        client = moto_env.client("sesv2")
        client.create_email_identity(EmailIdentity="northwind.test")
        yield client


def test_a_send_goes_out_raw_with_our_headers_and_the_ses_message_id(moto_ses: Any) -> None:
    mailer = SesMailer(moto_ses, moto_env.REGION, ManualClock(), configuration_set="outreach")
    receipt = mailer.send(outbound())
    [sent] = moto_env.ses_sent()
    message = email.message_from_string(sent.raw_data, policy=policy.default)
    assert "dana@customer.test" in sent.destinations
    assert message["List-Unsubscribe"] == "<https://u.northwind.test/unsubscribe/tok>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["In-Reply-To"] == "<0102019000000000-aaaa-000000@eu-west-1.amazonses.com>"
    assert message["Subject"] == "Вопрос о вашей команде"
    assert message["X-Outreach-Ref"] == "r1.opaque-reference"
    assert "Здравствуйте" in message.get_body(("plain",)).get_content()
    assert receipt.provider_message_id == sent.id
    assert receipt.rfc_message_id == f"<{sent.id}@eu-west-1.amazonses.com>"
    assert receipt.region == "eu-west-1" and mailer.name == "ses:eu-west-1"


def test_an_unverified_sender_is_rejected_by_ses(moto_ses: Any) -> None:
    mailer = SesMailer(moto_ses, moto_env.REGION, ManualClock())
    with pytest.raises(MailRejected):
        mailer.send(outbound(sender=Address(email="x@unverified.test")))
    assert moto_env.ses_sent() == []


def test_the_message_id_host_depends_on_the_region() -> None:
    assert rfc_message_id("0100abc-000000", "us-east-1") == "<0100abc-000000@email.amazonses.com>"
    assert rfc_message_id("0102abc-000000", "eu-west-1") == "<0102abc-000000@eu-west-1.amazonses.com>"


def test_tags_keep_to_the_characters_ses_allows() -> None:
    tags = email_tags({"tenant": "north.wind", "job": "audit_lead-1_1"})
    assert tags == [{"Name": "job", "Value": "audit_lead-1_1"}, {"Name": "tenant", "Value": "north_wind"}]


# --- the request, and every error, through the Stubber ----------------------------------------------


@pytest.fixture
def stubbed() -> Iterator[tuple[SesMailer, Stubber]]:
    with moto_env.fake_aws_env():
        client = moto_env.client("sesv2")
        with Stubber(client) as stubber:
            yield SesMailer(client, "us-east-1", ManualClock(), configuration_set="outreach"), stubber


def test_the_request_carries_configuration_set_tags_and_raw_content() -> None:
    with moto_env.fake_aws_env():
        client = moto_env.client("sesv2")
        mailer = SesMailer(client, "us-east-1", ManualClock(), configuration_set="cs")
        with Stubber(client) as stubber:
            stubber.add_response(
                "send_email",
                {"MessageId": "0100018f-abc-000000"},
                {
                    "FromEmailAddress": "alex@northwind.test",
                    "Destination": {"ToAddresses": ["dana@customer.test"]},
                    "Content": {"Raw": {"Data": _RawMatching(b"List-Unsubscribe-Post")}},
                    "EmailTags": [
                        {"Name": "campaign", "Value": "audit"},
                        {"Name": "ikey", "Value": "9f86d081"},
                        {"Name": "job", "Value": "audit_lead-1_1"},
                        {"Name": "tenant", "Value": "northwind"},
                    ],
                    "ConfigurationSetName": "cs",
                },
            )
            receipt = mailer.send(outbound())
            stubber.assert_no_pending_responses()
    assert receipt.rfc_message_id == "<0100018f-abc-000000@email.amazonses.com>"


class _RawMatching(bytes):
    """Equal to any raw MIME message that contains `needle` (the Stubber compares parameters with ==)."""

    def __new__(cls, needle: bytes) -> _RawMatching:
        return super().__new__(cls, needle)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, bytes) and bytes(self) in other

    __hash__ = bytes.__hash__


ERRORS = [
    ("TooManyRequestsException", 429, "Maximum sending rate exceeded.", MailThrottled),
    ("Throttling", 400, "Maximum sending rate exceeded.", MailThrottled),
    ("SendingPausedException", 400, "Sending is paused for this account.", MailSendingPaused),
    ("AccountSuspendedException", 400, "Account is suspended.", MailSendingPaused),
    ("MessageRejected", 400, "Email address is not verified.", MailRejected),
    ("MailFromDomainNotVerifiedException", 400, "MAIL FROM domain not verified.", MailRejected),
    ("NotFoundException", 404, "Configuration set <outreach> does not exist.", MailRejected),
    ("BadRequestException", 400, "Invalid email address.", MailRejected),
    ("LimitExceededException", 400, "Too many configuration sets.", MailRejected),
    ("InternalFailure", 500, "An internal error occurred.", MailOutcomeUnknown),
    ("ServiceUnavailable", 503, "Service unavailable.", MailOutcomeUnknown),
    ("AccessDeniedException", 403, "not authorized to perform ses:SendEmail", MailTransientError),
]


@pytest.mark.parametrize(("code", "status", "message", "expected"), ERRORS, ids=[e[0] for e in ERRORS])
def test_each_ses_error_maps_to_its_mail_error(
    stubbed: tuple[SesMailer, Stubber], code: str, status: int, message: str, expected: type[MailError]
) -> None:
    mailer, stubber = stubbed
    stubber.add_client_error(
        "send_email", service_error_code=code, service_message=message, http_status_code=status
    )
    with pytest.raises(MailError) as raised:
        mailer.send(outbound())
    assert type(raised.value) is expected
    assert message in raised.value.text


def test_a_throttle_is_retried_soon_but_an_exhausted_daily_quota_waits() -> None:
    with moto_env.fake_aws_env():
        client = moto_env.client("sesv2")
        mailer = SesMailer(client, "eu-west-1", ManualClock())
        with Stubber(client) as stubber:
            stubber.add_client_error(
                "send_email", "TooManyRequestsException", "Maximum sending rate exceeded.", 429
            )
            stubber.add_client_error(
                "send_email", "TooManyRequestsException", "Daily message quota exceeded.", 429
            )
            stubber.add_client_error(
                "send_email", "LimitExceededException", "Daily message quota exceeded.", 400
            )
            with pytest.raises(MailThrottled) as rate:
                mailer.send(outbound())
            with pytest.raises(MailThrottled) as daily:
                mailer.send(outbound())
            with pytest.raises(MailThrottled) as daily_v2:
                mailer.send(outbound())
    assert rate.value.retry_after is None
    assert daily.value.retry_after == daily_v2.value.retry_after == DAILY_QUOTA_RETRY >= timedelta(hours=1)


def test_mail_from_not_verified_is_a_sender_side_refusal() -> None:
    with moto_env.fake_aws_env():
        client = moto_env.client("sesv2")
        with Stubber(client) as stubber:
            stubber.add_client_error("send_email", "MailFromDomainNotVerifiedException", "MX missing", 400)
            with pytest.raises(MailRejected) as raised:
                SesMailer(client, "eu-west-1", ManualClock()).send(outbound())
    assert raised.value.status.startswith("5.7.")  # the core pauses the identity; the lead is not at fault


# --- the network, on loopback -------------------------------------------------------------------------


def _client_at(endpoint: str) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": 1}, connect_timeout=2, read_timeout=0.3
    )
    return moto_env.client("sesv2", endpoint_url=endpoint, config=config)


def test_a_refused_connection_never_reached_ses_so_it_is_transient() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: connections are refused
        with moto_env.fake_aws_env():
            mailer = SesMailer(_client_at(f"http://127.0.0.1:{port}"), "eu-west-1", ManualClock())
            with pytest.raises(MailTransientError) as raised:
                mailer.send(outbound())
    assert type(raised.value) is MailTransientError


def test_a_read_timeout_after_the_request_went_out_is_an_unknown_outcome() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        accepted: list[socket.socket] = []
        thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True)
        thread.start()  # accepts, reads nothing back: the request is sent and no answer ever comes
        try:
            with moto_env.fake_aws_env():
                mailer = SesMailer(_client_at(f"http://127.0.0.1:{port}"), "eu-west-1", ManualClock())
                with pytest.raises(MailOutcomeUnknown):
                    mailer.send(outbound())
        finally:
            thread.join(timeout=5)
            for conn in accepted:
                conn.close()
