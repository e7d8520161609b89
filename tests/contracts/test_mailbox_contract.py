"""The mailbox contract, run against the in-memory FakeMailbox and the real ImapMailbox on dovecot:
new messages above the last UID in order, at most `limit` with `more` set, everything again when the
UIDVALIDITY the caller knows is not the folder's, and nothing marked \\Seen."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.imap_mailbox import ImapMailbox
from adapters.secrets import SecretResolver
from outreach_core.domain.accounts import ImapAccount, TlsMode
from tests.fakes import FakeMailbox
from tests.imap_server import dovecot

USER, PASSWORD = "box@acme-mail.com", "box-pass-1"


class Subject:
    def __init__(self, mailbox: Any, append: Any) -> None:
        self.mailbox, self.append = mailbox, append


@pytest.fixture(params=["fake", "dovecot"])
def subject(request: pytest.FixtureRequest) -> Iterator[Subject]:
    if request.param == "fake":
        fake = FakeMailbox()
        yield Subject(fake, fake.append)
        return
    with dovecot({USER: PASSWORD}) as imap:
        account = ImapAccount(
            host="127.0.0.1", port=imap.port, tls=TlsMode.NONE, username=USER, secret_ref="env:BOX"
        )
        mailbox = ImapMailbox(account, SecretResolver(env={"BOX": PASSWORD}), timeout=10)
        yield Subject(mailbox, lambda raw: imap.deliver(USER, raw))


def message(n: int) -> bytes:
    headers = f"From: a{n}@example.com\r\nSubject: m{n}\r\nMessage-ID: <m{n}@example.com>\r\n"
    return f"{headers}\r\nbody {n}\r\n".encode()


def test_new_messages_in_order_in_batches_then_nothing(subject: Subject) -> None:
    for n in range(5):
        subject.append(message(n))
    first = subject.mailbox.fetch_new(None, 0, limit=3)
    assert [m.raw.split(b"\r\n")[1] for m in first.messages] == [
        b"Subject: m0",
        b"Subject: m1",
        b"Subject: m2",
    ]
    assert first.more and first.uidvalidity > 0
    last = first.messages[-1].uid
    rest = subject.mailbox.fetch_new(first.uidvalidity, last, limit=3)
    assert [m.raw.split(b"\r\n")[1] for m in rest.messages] == [b"Subject: m3", b"Subject: m4"]
    assert not rest.more and all(m.uid > last for m in rest.messages)
    assert subject.mailbox.fetch_new(first.uidvalidity, rest.messages[-1].uid).messages == []


def test_another_uidvalidity_means_reading_from_the_start(subject: Subject) -> None:
    subject.append(message(1))
    subject.append(message(2))
    seen = subject.mailbox.fetch_new(None, 0)
    again = subject.mailbox.fetch_new(seen.uidvalidity + 1, seen.messages[-1].uid)
    assert [m.uid for m in again.messages] == [m.uid for m in seen.messages]
