"""What a tenant brings to the deployed stack besides SES (issue 14), all on 127.0.0.1: a rep's own
mail account - its SMTP server (aiosmtpd, which takes only the rep's login) and its mailbox (a real
dovecot, started by tests/imap_server.py with its config in a temporary directory) - and each tenant's
webhook receiver (tests/webhook_receiver.py: it verifies the HMAC-SHA256 signature over timestamp +
body, as a tenant's developer would). And what reaches the rep's mailbox: a lead's reply, an
out-of-office, a DSN bounce report, and copies of a message the rep sent (the Sent folder's, and a
Bcc-to-self one in the INBOX).
"""

from __future__ import annotations

import email
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email import policy
from email.utils import format_datetime
from pathlib import Path

from tests.imap_server import Dovecot, dovecot
from tests.smtp_sink import Authenticator, SinkHandler, start_sink
from tests.webhook_receiver import Receiver, webhook_receiver

BOUNCES = Path(__file__).resolve().parents[1] / "corpus" / "bounces"


@dataclass
class RepMailbox:
    address: str
    smtp: SinkHandler
    smtp_port: int
    imap: Dovecot

    @property
    def imap_port(self) -> int:
        return self.imap.port

    def recipients(self) -> list[str]:
        return [r for m in self.smtp.messages for r in m.recipients]

    def sent_to(self, lead: str) -> bytes:
        """The message to `lead` as the rep's SMTP server received it (what a Sent folder keeps)."""
        for received in self.smtp.messages:
            if lead in received.recipients:
                return received.content
        raise AssertionError(f"nothing to {lead} reached the rep's SMTP server")

    def message_id(self, lead: str) -> str:
        return str(email.message_from_bytes(self.sent_to(lead), policy=policy.default)["Message-ID"])

    def reply(self, lead: str, body: str, *, subject: str = "", headers: str = "") -> bytes:
        """The lead's answer to the message it received, as a mail client writes it."""
        original = email.message_from_bytes(self.sent_to(lead), policy=policy.default)
        sent_id = self.message_id(lead)
        return (
            f"From: Lead <{lead}>\r\nTo: <{self.address}>\r\n"
            f"Subject: {subject or 'Re: ' + str(original['Subject'])}\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n"
            f"Message-ID: <reply-{abs(hash((lead, body))) % 10**10}@customer.example>\r\n"
            f"In-Reply-To: {sent_id}\r\nReferences: {sent_id}\r\n{headers}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n\r\nOn Tue, Rep wrote:\r\n> the original text\r\n"
        ).encode()

    def out_of_office(self, lead: str, back: date) -> bytes:
        text = f"I am out of the office until {back:%B} {back.day}, {back.year} with limited access to email."
        return self.reply(
            lead, text, subject="Automatic reply: out of office", headers="Auto-Submitted: auto-replied\r\n"
        )

    def bounce(self, lead: str) -> bytes:
        """An RFC 3464 report from the lead's MTA: 550 5.1.1, the original's headers attached."""
        raw = (BOUNCES / "postfix_rfc3464.eml").read_text()
        raw = raw.replace("{{FROM}}", self.address).replace("{{TO}}", lead)
        return raw.replace("{{MESSAGE_ID}}", self.message_id(lead)).replace("\n", "\r\n").encode()

    def deliver(self, *messages: bytes, folder: str = "INBOX") -> None:
        """Into the mailbox (IMAP APPEND), as the rep's provider delivers or files them."""
        with self.imap.client_session(self.address) as client:
            for raw in messages:
                client.append(folder, raw)


@contextmanager
def rep_mailbox(address: str, smtp_password: str, imap_password: str) -> Iterator[RepMailbox]:
    handler = SinkHandler()
    controller = start_sink(
        handler, authenticator=Authenticator(address, smtp_password), auth_require_tls=False
    )
    try:
        with dovecot({address: imap_password}) as imap:
            yield RepMailbox(address, handler, controller.port, imap)
    finally:
        controller.stop()


@contextmanager
def webhook_receivers(secrets: dict[str, str]) -> Iterator[dict[str, Receiver]]:
    """One receiver per tenant, each knowing only its own signing secret (the wall clock: the deployed
    functions sign with theirs)."""
    with ExitStack() as stack:
        yield {
            tenant: stack.enter_context(webhook_receiver(secret, now=lambda: int(time.time())))
            for tenant, secret in secrets.items()
        }
