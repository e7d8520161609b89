"""SmtpMailer against a real SMTP server (aiosmtpd on 127.0.0.1): MIME, headers, reuse, refusals, TLS."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from adapters.smtp_mailer import SmtpMailer
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.mail import MailRefused, MailSendingPaused, MailTransientError, OutboundEmail
from outreach_core.domain.models import Lead, SenderIdentity, Template, Tenant
from outreach_core.rendering.compose import Thread, compose
from tests.fakes import T0, ManualClock
from tests.smtp_sink import Authenticator, SinkHandler, free_port, start_sink

TENANT = Tenant(id="globex", name="Globex", postal_address="ул. Тверская, 7, Москва", created_at=T0)
IDENTITY = SenderIdentity(
    tenant_id="globex", id="olga", email="olga@globex-mail.ru", display_name="Ольга Петрова", created_at=T0
)
# As long as a real one: long header values must not be folded into something parsers misread.
UNSUBSCRIBE = "https://unsubscribe.example.net/u/globex.l-0123456789abcdef.0123456789abcdef0123456789abcdef"
LEAD = Lead(
    tenant_id="globex",
    id="l-1",
    email="ivan@mail.ru",
    first_name="Иван",
    company="Вектор",
    source="t",
    imported_at=T0,
)


def email(step: int = 1, thread: Thread | None = None) -> OutboundEmail:
    subject = "Вопрос для {{company}}" if step == 1 else ""
    template = Template(
        tenant_id="globex", id="t", subject=subject, text="Здравствуйте, {{first_name}}! Как дела?"
    )
    job = MessageJob(
        job_id=f"c_l-1_{step}",
        tenant_id="globex",
        campaign_id="c",
        lead_id="l-1",
        step=step,
        template_id="t",
        scheduled_at=T0,
        idempotency_key=f"key{step}",
        updated_at=T0,
    )
    return compose(
        tenant=TENANT,
        identity=IDENTITY,
        lead=LEAD,
        template=template,
        job=job,
        unsubscribe_url=UNSUBSCRIBE,
        thread=thread,
        secret="smtp-test-secret",
    )


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    handler = SinkHandler()
    controller = start_sink(handler)
    yield handler, controller.port
    controller.stop()


def parsed(content: bytes) -> EmailMessage:
    message = message_from_bytes(content, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_message_is_valid_mime_with_utf8_subject_unsubscribe_and_threading(
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    mailer = SmtpMailer("127.0.0.1", port, ManualClock())
    first = mailer.send(email(1))
    mailer.send(email(2, Thread(message_id=first.rfc_message_id, subject="Вопрос для Вектор")))
    mailer.close()
    one, two = (parsed(m.content) for m in handler.messages)
    assert one.defects == [] and two.defects == []
    assert one["Subject"] == "Вопрос для Вектор" and two["Subject"] == "Re: Вопрос для Вектор"
    assert b"=?utf-8?" in handler.messages[0].content  # the raw header is an RFC 2047 encoded-word
    assert all(m.content.isascii() for m in handler.messages)  # 7-bit clean: survives any relay
    assert str(one["From"]) == "Ольга Петрова <olga@globex-mail.ru>"
    assert one["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert one["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "In-Reply-To" not in one
    assert (
        two["In-Reply-To"] == first.rfc_message_id == one["Message-ID"]
        and two["References"] == first.rfc_message_id
    )
    body = one.get_body(("plain",))
    assert body is not None and "Здравствуйте, Иван!" in body.get_content()
    assert "ул. Тверская, 7, Москва" in body.get_content()
    assert (
        handler.messages[0].recipients == ["ivan@mail.ru"]
        and handler.messages[0].sender == "olga@globex-mail.ru"
    )


def test_one_connection_carries_many_messages(sink: tuple[SinkHandler, int]) -> None:
    handler, port = sink
    mailer = SmtpMailer("127.0.0.1", port, ManualClock())
    for _ in range(5):
        mailer.send(email(1))
    mailer.close()
    assert len(handler.messages) == 5 and mailer.connections_opened == 1 and handler.connections == 1


def test_refusals_are_reported_as_they_came_and_the_connection_survives(
    sink: tuple[SinkHandler, int],
) -> None:
    handler, port = sink
    mailer = SmtpMailer("127.0.0.1", port, ManualClock())
    # The adapter decides nothing: every refusal is a MailRefused with the reply's raw facts, which
    # the core's response policy classifies (tests/corpus: the production path, reply by reply).
    for reply, code, status in (
        ("550 5.1.1 <ivan@mail.ru>: Recipient address rejected: User unknown", 550, "5.1.1"),
        ("451 4.7.650 The mail server has been temporarily rate limited", 451, "4.7.650"),
        ("450 4.2.0 Mailbox busy", 450, "4.2.0"),
        ("421 Service not available", 421, ""),
    ):
        handler.refuse_rcpt = {"ivan@mail.ru": reply}
        with pytest.raises(MailRefused) as refused:
            mailer.send(email(1))
        facts = (refused.value.smtp_code, refused.value.status, refused.value.stage)
        assert facts == (code, status, "RCPT TO")
        assert refused.value.text == reply.split(" ", 1)[1]
    handler.refuse_rcpt = {}
    mailer.send(email(1))
    assert len(handler.messages) == 1


def test_a_server_that_is_not_there_is_a_transient_error() -> None:
    mailer = SmtpMailer("127.0.0.1", free_port(), ManualClock(), timeout=2)
    with pytest.raises(MailTransientError, match="cannot connect"):
        mailer.send(email(1))


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_path, key_path)
    client = ssl.create_default_context(cafile=str(cert_path))
    return server, client


def test_starttls_and_auth(tmp_path: Path) -> None:
    server_ctx, client_ctx = _self_signed(tmp_path)
    handler = SinkHandler()
    controller = start_sink(
        handler,
        tls_context=server_ctx,
        require_starttls=True,
        authenticator=Authenticator("user", "secret"),
        auth_require_tls=True,
    )
    try:
        wrong = SmtpMailer(
            "127.0.0.1",
            controller.port,
            ManualClock(),
            username="user",
            password="nope",
            starttls=True,
            ssl_context=client_ctx,
        )
        with pytest.raises(MailSendingPaused, match="authentication"):
            wrong.send(email(1))
        mailer = SmtpMailer(
            "127.0.0.1",
            controller.port,
            ManualClock(),
            username="user",
            password="secret",
            starttls=True,
            ssl_context=client_ctx,
        )
        mailer.send(email(1))
        mailer.close()
    finally:
        controller.stop()
    assert len(handler.messages) == 1
