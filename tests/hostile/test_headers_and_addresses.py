"""F4, F5, F15: what goes into headers, one form of each address, Message-IDs nobody can forge.

The sends go through the real SMTP adapter to a local sink, so the bytes checked are the bytes a
receiving server would parse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path

import pytest

from entrypoints.container import Application
from entrypoints.worker import LocalWorker, WorkerStats
from outreach_core.domain.events import InboundReply
from outreach_core.domain.ids import idempotency_key, lead_id_for
from outreach_core.domain.jobs import JobStatus
from outreach_core.domain.models import Lead, LeadStatus, Template
from outreach_core.domain.suppression import SuppressionReason
from tests.fakes import T0
from tests.harness import harness, seed_tenant
from tests.hostile.world import TENANT, workspace_world
from tests.smtp_sink import SinkHandler, start_sink

SECRET = "headers-test-secret"


@pytest.fixture
def sink() -> Iterator[tuple[SinkHandler, int]]:
    handler = SinkHandler()
    controller = start_sink(handler)
    try:
        yield handler, controller.port
    finally:
        controller.stop()


def smtp_world(path: Path, port: int, leads: str) -> Application:
    return workspace_world(path, leads, mailer="smtp", smtp_port=port, unsubscribe_secret=SECRET)


def send_all(app: Application, expected: int) -> WorkerStats:
    worker, stats = LocalWorker.from_app(app), WorkerStats()
    for _ in range(50):
        stats.add(worker.run_once())
        if sum(stats.outcomes.get(k, 0) for k in ("sent", "failed", "uncertain", "suppressed")) >= expected:
            break
        time.sleep(0.1)
    return stats


def header_block(raw: bytes) -> list[str]:
    """The header lines exactly as on the wire, up to the empty line."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    return head.split("\r\n")


def parsed(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=default)


# --- F4 ---------------------------------------------------------------------------------------------


def test_f4_a_multi_line_company_stays_inside_the_subject(tmp_path: Path, sink) -> None:  # type: ignore[no-untyped-def]
    handler, port = sink
    app = smtp_world(tmp_path, port, 'email,company\nbob@corp-x.com,"Acme\r\nBcc: victim@evil.example"\n')
    template = app.services.records().get(Template, TENANT, "t1")
    app.services.records().replace(template.model_copy(update={"subject": "Question for {{company}}"}))

    send_all(app, 1)

    [received] = handler.messages
    assert received.recipients == ["bob@corp-x.com"]
    message = parsed(received.content)
    assert message["Subject"] == "Question for Acme Bcc: victim@evil.example"
    assert message["Bcc"] is None
    names = [line.split(":", 1)[0] for line in header_block(received.content) if not line.startswith(" ")]
    assert {"List-Unsubscribe", "List-Unsubscribe-Post", "Message-ID"} <= set(names)
    assert "Bcc" not in names


def test_f4_a_header_in_a_lead_name_is_neither_injected_nor_uncertain(tmp_path: Path, sink) -> None:  # type: ignore[no-untyped-def]
    handler, port = sink
    app = smtp_world(tmp_path, port, 'email,first_name\nbob@corp-x.com,"Evil\r\nBcc: victim@evil.example"\n')

    stats = send_all(app, 1)

    [job] = app.services.records().jobs(TENANT)
    assert job.status is JobStatus.SENT, (job.status, job.status_reason, stats.outcomes)
    [received] = handler.messages
    assert received.recipients == ["bob@corp-x.com"]
    assert parsed(received.content)["Bcc"] is None
    assert parsed(received.content)["To"].addresses[0].addr_spec == "bob@corp-x.com"


def test_f4_reply_to_and_display_name_are_checked_at_input(tmp_path: Path) -> None:
    h = harness(tmp_path)
    seed_tenant(h, start=False)
    with pytest.raises(ValueError, match="reply-to"):
        h.admin.add_identity(
            TENANT, "x1", "x1@acme-mail.com", reply_to="x@acme.example\r\nBcc: v@evil.example"
        )
    with pytest.raises(ValueError, match="reply-to"):
        h.admin.add_identity(TENANT, "x2", "x2@acme-mail.com", reply_to="not an address")
    with pytest.raises(ValueError, match="display name"):
        h.admin.add_identity(TENANT, "x3", "x3@acme-mail.com", display_name="Ann\nBcc: v@evil.example")
    ok = h.admin.add_identity(
        TENANT, "x4", "x4@acme-mail.com", reply_to="reply+{reply_token}@In.Acme.example"
    )
    assert ok.reply_to == "reply+{reply_token}@in.acme.example"


def test_f4_a_message_the_adapter_cannot_encode_fails_and_is_never_uncertain(tmp_path: Path) -> None:
    from outreach_core.domain.mail import MailUnencodable

    h = harness(tmp_path)
    [email] = seed_tenant(h, leads=["ann@corp-x.com"], steps=1)
    h.mailer.fail_next(email, MailUnencodable("the message cannot be encoded as MIME: UnicodeEncodeError"))
    assert h.tick_and_send() == ["failed"]
    [job] = h.records.jobs(TENANT)
    assert job.status is JobStatus.FAILED and job.status_reason.startswith("render:")


# --- F5 ---------------------------------------------------------------------------------------------


def test_f5_an_idn_address_is_stored_in_its_ascii_form_and_sent(tmp_path: Path, sink) -> None:  # type: ignore[no-untyped-def]
    handler, port = sink
    app = smtp_world(tmp_path, port, "email\nidn@xn--bcher-kva.de\nIdn2@Bücher.DE\nidn@bücher.de\n")
    leads = app.services.records().all(Lead, TENANT)
    assert sorted(lead.email for lead in leads) == ["Idn2@xn--bcher-kva.de", "idn@xn--bcher-kva.de"]

    stats = send_all(app, 2)

    assert stats.outcomes.get("sent") == 2, stats.outcomes
    assert sorted(r for m in handler.messages for r in m.recipients) == [
        "Idn2@xn--bcher-kva.de",
        "idn@xn--bcher-kva.de",
    ]
    assert {j.status for j in app.services.records().jobs(TENANT)} == {JobStatus.SENT}


def test_f5_the_unicode_and_ascii_forms_are_one_lead_in_an_import(tmp_path: Path) -> None:
    h = harness(tmp_path)
    seed_tenant(h, start=False, leads=[])
    report = h.leads.import_csv(TENANT, "email\nidn@bücher.de\nidn@xn--bcher-kva.de\n".encode())
    assert report.imported == 1 and [p.reason for p in report.problems] == ["duplicate of line 2"]


@pytest.mark.parametrize(("imported", "suppressed"), [("idn@bücher.de", "idn@xn--bcher-kva.de"),
                                                      ("idn@xn--bcher-kva.de", "IDN@BÜCHER.DE")])  # fmt: skip
def test_f5_suppressing_either_form_stops_the_lead(tmp_path: Path, imported: str, suppressed: str) -> None:
    h = harness(tmp_path)
    seed_tenant(h, leads=[imported], steps=1)
    h.app.services.suppression().suppress(
        TENANT, suppressed, SuppressionReason.MANUAL, source="cli", at=T0, actor="operator"
    )
    assert "sent" not in h.tick_and_send()
    assert h.mailer.sent == []
    [lead] = h.records.all(Lead, TENANT)
    assert lead.status is LeadStatus.UNSUBSCRIBED
    assert h.records.suppression_for(TENANT, lead.email) is not None


# --- F15 --------------------------------------------------------------------------------------------


def test_f15_a_crafted_in_reply_to_matches_nothing(tmp_path: Path) -> None:
    h = harness(tmp_path)
    [ann] = seed_tenant(h, leads=["ann@corp-x.com"], steps=2)
    assert h.tick_and_send() == ["sent"]
    lead_id = lead_id_for(TENANT, ann)
    # Everything in the old Message-ID is public or guessable: tenant, campaign, address, step.
    crafted = f"<{idempotency_key(TENANT, 'spring', lead_id, 1)}@acme-mail.com>"
    forged = InboundReply(event_id="forged-1", in_reply_to=crafted, sender="mallory@evil.example",
                          received_at=h.clock.now(), text="stop")  # fmt: skip
    assert not h.replies.handle(forged).matched
    assert h.records.all(Lead, TENANT)[0].status is (LeadStatus.ACTIVE)
    # The real Message-ID, as the recipient saw it, still matches.
    [job] = [j for j in h.records.jobs(TENANT) if j.step == 1]
    real = InboundReply(event_id="real-1", in_reply_to=job.rfc_message_id or "", sender=ann,
                        received_at=h.clock.now(), text="Thanks, let's talk.")  # fmt: skip
    assert h.replies.handle(real).stopped
