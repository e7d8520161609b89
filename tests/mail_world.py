"""A tenant whose identities send through their own SMTP accounts (aiosmtpd sinks on 127.0.0.1, each
with its own login) and read their mailboxes on a real dovecot: the real container, the real
IdentityMailer, SmtpMailer and ImapPoller, on the in-memory store and a manual clock."""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from adapters.imap_poller import ImapPoller, PollReport
from entrypoints.container import imap_poller
from outreach_core.domain.accounts import ImapAccount, SmtpAccount, TlsMode
from outreach_core.domain.ids import lead_id_for
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Lead
from tests.harness import Harness, harness, seed_tenant
from tests.imap_server import Dovecot
from tests.smtp_sink import Authenticator, SinkHandler, start_sink

TENANT = "acme"
BOUNCES = Path(__file__).resolve().parent / "corpus" / "bounces"
PASSWORDS = {0: "ann-smtp-pass-7Q2x", 1: "bob-smtp-pass-9Z4k"}
IMAP_PASSWORDS = {0: "ann-imap-pass-3W8e", 1: "bob-imap-pass-5R1t"}


@dataclass
class Sink:
    controller: Controller
    handler: SinkHandler


@dataclass
class MailWorld:
    h: Harness
    imap: Dovecot
    sinks: dict[int, Sink]
    leads: list[str]
    poller: ImapPoller = field(init=False)

    def __post_init__(self) -> None:
        self.poller = imap_poller(self.h.app)

    def identity_email(self, n: int) -> str:
        return f"rep{n}@{TENANT}-mail.com"

    def job(self, lead: str, step: int = 1) -> MessageJob:
        lead_id = lead_id_for(TENANT, lead)
        return next(j for j in self.h.records.jobs(TENANT) if j.lead_id == lead_id and j.step == step)

    def lead(self, email_address: str) -> Lead:
        return self.h.records.get(Lead, TENANT, lead_id_for(TENANT, email_address))

    def sender_of(self, lead: str) -> int:
        sender = self.job(lead).sender_id
        assert sender is not None
        return int(sender.removeprefix("id"))

    def sent_copy(self, lead: str) -> bytes:
        """The message as the identity's SMTP server received it (what a Sent folder keeps)."""
        n = self.sender_of(lead)
        for received in self.sinks[n].handler.messages:
            if lead in received.recipients:
                return received.content
        raise AssertionError(f"no message to {lead} reached sink {n}")

    def reply(
        self, lead: str, body: str, *, subject: str = "", headers: str = "", at: datetime | None = None
    ) -> bytes:
        """A reply from the lead to the message it received, as its mail client writes it."""
        job = self.job(lead)
        original = email.message_from_bytes(self.sent_copy(lead))
        when = format_datetime(at or self.h.clock.now())
        return (
            f"From: Lead <{lead}>\r\nTo: <{self.identity_email(self.sender_of(lead))}>\r\n"
            f"Subject: {subject or 'Re: ' + str(original['Subject'])}\r\nDate: {when}\r\n"
            f"Message-ID: <reply-{job.job_id}-{abs(hash(body)) % 10**8}@example-corp.com>\r\n"
            f"In-Reply-To: {job.rfc_message_id}\r\nReferences: {job.rfc_message_id}\r\n{headers}"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            f"{body}\r\n\r\nOn Mon, 5 Jan 2026, Rep wrote:\r\n> the original text\r\n"
        ).encode()

    def bounce(self, name: str, lead: str) -> bytes:
        raw = (BOUNCES / f"{name}.eml").read_text()
        raw = raw.replace("{{FROM}}", self.identity_email(self.sender_of(lead))).replace("{{TO}}", lead)
        return (
            raw.replace("{{MESSAGE_ID}}", self.job(lead).rfc_message_id or "").replace("\n", "\r\n").encode()
        )

    def deliver(self, lead: str, raw: bytes, folder: str = "INBOX") -> None:
        self.imap.deliver(self.identity_email(self.sender_of(lead)), raw, folder)

    def poll(self) -> PollReport:
        return self.poller.poll_all()

    def later(self, days: float) -> list[str]:
        self.h.clock.advance(timedelta(days=days))
        return self.h.tick_and_send()


@contextmanager
def mail_world(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    imap: Dovecot,
    *,
    leads: int = 5,
    caps: tuple[int, int] = (50, 50),
) -> Iterator[MailWorld]:
    """Two identities, each with its own SMTP login (env: references) and IMAP mailbox."""
    sinks: dict[int, Sink] = {}
    try:
        for n in (0, 1):
            handler = SinkHandler()
            login = f"rep{n}@{TENANT}-mail.com"
            controller = start_sink(
                handler, authenticator=Authenticator(login, PASSWORDS[n]), auth_require_tls=False
            )
            sinks[n] = Sink(controller, handler)
            monkeypatch.setenv(f"ACME_REP{n}_SMTP", PASSWORDS[n])
            monkeypatch.setenv(f"ACME_REP{n}_IMAP", IMAP_PASSWORDS[n])
        h = harness(tmp_path, mailer="smtp", smtp_host="127.0.0.1", smtp_port=9)  # the default: never used
        h.app.adapters.mailer.reset_override()  # the real IdentityMailer, over real SMTP
        emails = [f"lead{n}@example-corp{n % 3}.com" for n in range(leads)]
        seed_tenant(h, identities=2, leads=emails, start=False)
        admin = h.admin
        for n in (0, 1):
            login = f"rep{n}@{TENANT}-mail.com"
            admin.records.replace(
                admin.records.get(type(admin.identities(TENANT)[0]), TENANT, f"id{n}").model_copy(
                    update={"daily_cap": caps[n]}
                )
            )
            admin.connect_identity(
                TENANT,
                f"id{n}",
                smtp=SmtpAccount(
                    host="127.0.0.1",
                    port=sinks[n].controller.port,
                    tls=TlsMode.NONE,
                    username=login,
                    secret_ref=f"env:ACME_REP{n}_SMTP",
                ),
                imap=ImapAccount(
                    host="127.0.0.1",
                    port=imap.port,
                    tls=TlsMode.NONE,
                    username=login,
                    secret_ref=f"env:ACME_REP{n}_IMAP",
                ),
            )
        admin.start_campaign(TENANT, "spring")
        yield MailWorld(h, imap, sinks, emails)
    finally:
        for sink in sinks.values():
            sink.controller.stop()


IMAP_USERS = {f"rep{n}@{TENANT}-mail.com": IMAP_PASSWORDS[n] for n in (0, 1)}
