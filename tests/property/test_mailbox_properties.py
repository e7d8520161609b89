"""Properties of what comes back (issue 14):

- the IMAP poller applies each message at most once, whatever restarts, lost seen-state or UIDVALIDITY
  changes happen between polls: the end state equals that of one clean pass;
- a webhook signature verifies for exactly the body and timestamp it was made for, and only recently;
- the retry schedule never shrinks, never waits less than the first retry nor more than the queue can;
- inbox categories are total and deterministic, and a request to be removed is always `unsubscribe`;
- the bounce-report reader never raises on arbitrary bytes;
- secrets are refused by value: only env:, file: and ssm: references pass.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.dsn import read_report
from adapters.imap_poller import ImapPoller, cursor_sort
from outreach_core.domain.accounts import ImapAccount, SecretRefError, TlsMode, check_secret_ref
from outreach_core.domain.events import ReplyKind
from outreach_core.domain.inbox import InboxCategory, InboxMessage
from outreach_core.domain.models import Lead, SenderIdentity
from outreach_core.domain.webhooks import signature, verify
from outreach_core.policies.inbox import categorise, effect_of
from outreach_core.ports import Delete
from outreach_core.records import tenant_partition
from outreach_core.services.webhooks import WebhookConfig, retry_after
from tests.fakes import FakeMailbox
from tests.harness import Harness, harness, seed_tenant

TENANT = "acme"
LEADS = [f"lead{n}@example-corp.com" for n in range(4)]
TEXTS = ["Sounds interesting, let's talk.", "Not interested.", "Please remove me.", "Got it."]


def world(tmp: str) -> tuple[Harness, FakeMailbox]:
    h = harness(Path(tmp))
    seed_tenant(h, identities=1, leads=LEADS)
    h.tick_and_send()
    identity = h.records.get(SenderIdentity, TENANT, "id0")
    account = ImapAccount(host="127.0.0.1", port=1, tls=TlsMode.NONE, username="rep0", secret_ref="env:X")
    h.records.replace(identity.model_copy(update={"imap": account}))
    return h, FakeMailbox()


def message(h: Harness, kind: str, n: int) -> bytes:
    job = next(
        j
        for j in h.records.jobs(TENANT)
        if j.step == 1 and h.records.get(Lead, TENANT, j.lead_id).email == LEADS[n]
    )
    if kind == "bounce":
        return (
            "From: MAILER-DAEMON@mx.example-corp.com\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Message-ID: <dsn-{n}@mx>\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nfailed\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mx\r\n\r\nFinal-Recipient: rfc822; {LEADS[n]}\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            f"Message-ID: {job.rfc_message_id}\r\n\r\n--b--\r\n"
        ).encode()
    sender = "rep0@acme-mail.com" if kind == "own" else LEADS[n]
    return (
        f"From: <{sender}>\r\nTo: rep0@acme-mail.com\r\nSubject: Re: Hello\r\n"
        "Date: Mon, 05 Jan 2026 10:00:00 +0000\r\n"
        f"Message-ID: <{kind}-{n}@example-corp.com>\r\nIn-Reply-To: {job.rfc_message_id}\r\n"
        f"\r\n{TEXTS[n]}\r\n"
    ).encode()


def state(h: Harness) -> Any:
    leads = sorted((lead.email, lead.status.value) for lead in h.records.all(Lead, TENANT))
    jobs = sorted((j.job_id, j.status.value) for j in h.records.jobs(TENANT))
    inbox = sorted((m.event_id, m.category.value) for m in h.records.all(InboxMessage, TENANT))
    return leads, jobs, inbox, len(h.records.audit(TENANT))


def poller(h: Harness, mailbox: FakeMailbox, batch: int) -> ImapPoller:
    s, a = h.app.services, h.app.adapters
    return ImapPoller(
        s.records(),
        a.clock(),
        a.archive(),
        s.replies(),
        s.feedback(),
        s.inbox(),
        lambda account: mailbox,
        batch=batch,
        max_batches=1,
    )


messages = st.lists(
    st.tuples(st.sampled_from(["reply", "bounce", "own"]), st.integers(0, 3)), min_size=1, max_size=6
)
disruptions = st.lists(
    st.sampled_from(["poll", "restart", "lose_cursor", "renumber"]), min_size=1, max_size=8
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=messages, disruptions=disruptions, batch=st.integers(1, 3))
def test_the_poller_applies_each_message_at_most_once_whatever_happens_between_polls(
    messages: list[tuple[str, int]], disruptions: list[str], batch: int
) -> None:
    with TemporaryDirectory() as clean_dir, TemporaryDirectory() as rough_dir:
        clean, clean_box = world(clean_dir)
        rough, rough_box = world(rough_dir)
        for kind, n in messages:
            clean_box.append(message(clean, kind, n))
            rough_box.append(message(rough, kind, n))
        identity = clean.records.get(SenderIdentity, TENANT, "id0")
        once = ImapPoller(**{**poller(clean, clean_box, 50).__dict__, "max_batches": 10})
        once.poll(identity)
        current = poller(rough, rough_box, batch)
        for step in disruptions:
            if step == "restart":
                current = poller(rough, rough_box, batch)  # a new process: only the store remembers
            elif step == "lose_cursor":
                item = rough.store.get(tenant_partition(TENANT), cursor_sort("id0"))
                if item is not None:
                    rough.store.write(Delete(partition=item.partition, sort=item.sort))
            elif step == "renumber":
                rough_box.renumber(rough_box.uidvalidity + 1)
            current.poll(rough.records.get(SenderIdentity, TENANT, "id0"))
        while rough_box.fetch_new(*_cursor(rough), limit=1).messages:  # finish reading what is left
            current.poll(rough.records.get(SenderIdentity, TENANT, "id0"))
        assert state(rough) == state(clean)


def _cursor(h: Harness) -> tuple[int | None, int]:
    doc, _ = h.records.state(TENANT, cursor_sort("id0"))
    return (int(doc["uidvalidity"]) if "uidvalidity" in doc else None), int(doc.get("last_uid", 0))


@given(
    secret=st.text(min_size=1, max_size=40),
    timestamp=st.integers(0, 2**33),
    body=st.binary(max_size=200),
    other=st.binary(max_size=200),
    skew=st.integers(-1000, 1000),
)
def test_a_signature_verifies_for_exactly_its_body_and_timestamp_and_only_recently(
    secret: str, timestamp: int, body: bytes, other: bytes, skew: int
) -> None:
    header = signature(secret, timestamp, body)
    assert verify(secret, timestamp, body, header, now=timestamp + skew) is (abs(skew) <= 300)
    if other != body:
        assert not verify(secret, timestamp, other, header, now=timestamp)
    assert not verify(secret, timestamp + 1, body, header, now=timestamp)


@given(attempts=st.integers(1, 50))
def test_the_retry_schedule_never_shrinks_and_stays_within_the_queue(attempts: int) -> None:
    config = WebhookConfig()
    now, later = retry_after(config, attempts), retry_after(config, attempts + 1)
    assert config.first_retry <= now <= later <= config.max_retry <= timedelta(seconds=900)


@given(text=st.text(max_size=300), subject=st.text(max_size=60), kind=st.sampled_from(list(ReplyKind)))
def test_inbox_categories_are_total_and_deterministic(text: str, subject: str, kind: ReplyKind) -> None:
    first, again = categorise(kind, subject, text), categorise(kind, subject, text)
    assert first == again and first.category in InboxCategory
    effect_of(first.category, kind)  # every category has an effect
    if kind is ReplyKind.UNSUBSCRIBE:
        assert first.category is InboxCategory.UNSUBSCRIBE
    if kind is ReplyKind.AUTO_REPLY:
        assert first.category is InboxCategory.OUT_OF_OFFICE


@given(raw=st.binary(max_size=2000))
def test_the_bounce_reader_never_raises(raw: bytes) -> None:
    read_report(raw)
    read_report(b"Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n\r\n" + raw)


@given(value=st.text(max_size=80))
def test_only_references_pass_as_secrets(value: str) -> None:
    try:
        ref = check_secret_ref(value)
    except SecretRefError:
        return
    assert ref.split(":", 1)[0] in ("env", "file", "ssm") and " " not in ref


@pytest.mark.parametrize("value", ["hunter2", "p@ss:word", "env:", "env:1BAD", "ssm:/a b", "vault:x"])
def test_passwords_are_refused(value: str) -> None:
    with pytest.raises(SecretRefError):
        check_secret_ref(value)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    raws=st.lists(
        st.binary(max_size=600)
        | st.sampled_from(
            [
                b"From: a@b.c\r\n\r\n",
                b"Content-Type: multipart/report; report-type=delivery-status\r\n\r\n--x",
                b"From: MAILER-DAEMON@x\r\nSubject: failure notice\r\n\r\n550 5.1.1 <a@b>",
                b"\xff\xfe\x00",
            ]
        ),
        min_size=1,
        max_size=5,
    )
)
def test_no_message_stops_a_mailbox(raws: list[bytes]) -> None:
    with TemporaryDirectory() as tmp:
        h, box = world(tmp)
        for raw in raws:
            box.append(raw)
        report = poller(h, box, 50).poll(h.records.get(SenderIdentity, TENANT, "id0"))
        assert report.fetched == len(raws) and report.errors == []
        assert _cursor(h)[1] == len(raws)  # every message passed, none left blocking the mailbox


class DownArchive:
    def put(self, key: str, body: bytes, content_type: str) -> str:
        raise OSError("archive down")


def test_a_failing_archive_waits_for_the_next_poll_and_a_failing_message_is_kept_and_passed() -> None:
    with TemporaryDirectory() as tmp:
        h, box = world(tmp)
        box.append(message(h, "reply", 0))
        current = poller(h, box, 50)
        archive, current.archive = current.archive, DownArchive()
        report = current.poll(h.records.get(SenderIdentity, TENANT, "id0"))
        assert report.errors == ["acme/id0: OSError"] and _cursor(h)[1] == 0  # nothing advanced
        current.archive = archive
        current._reply = lambda *args: 1 / 0  # type: ignore[method-assign]
        report = current.poll(h.records.get(SenderIdentity, TENANT, "id0"))
        assert _cursor(h)[1] == 1 and "ZeroDivisionError" in report.errors[0]
        assert ".eml" in report.errors[0]  # says where the message was kept
