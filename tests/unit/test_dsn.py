"""Bounce reports -> DeliveryEvents (adapters/dsn.py): RFC 3464 and the common non-standard forms, and
the class the core's response classifier gives each (tests/corpus/bounces)."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.dsn import bounce_events, read_report
from outreach_core.domain.events import BounceKind, EventType
from outreach_core.policies.responses import classify_bounce, classify_delay

BOUNCES = Path(__file__).resolve().parents[1] / "corpus" / "bounces"
REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
EXPECTED = tomllib.loads((BOUNCES / "expected.toml").read_text())
MESSAGE_ID = "<9f2c1d0e8b7a6f5e4d3c2b1a0f9e8d7c@acme-mail.com>"
AT = datetime(2026, 1, 6, 10, 15, tzinfo=UTC)


def bounce(name: str) -> bytes:
    raw = (BOUNCES / f"{name}.eml").read_text()
    filled = raw.replace("{{FROM}}", "rep0@acme-mail.com").replace("{{TO}}", "lead0@example-corp.com")
    return filled.replace("{{MESSAGE_ID}}", MESSAGE_ID).replace("\n", "\r\n").encode()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bounce_form_is_read_with_its_status_and_our_message_id(name: str) -> None:
    want = EXPECTED[name]
    report = read_report(bounce(name))
    assert report is not None, name
    assert (report.form, report.original_message_id) == (want["form"], MESSAGE_ID)
    [block] = report.recipients
    assert (block.action, block.status) == (want["action"], want["status"])
    assert "lead0@example-corp.com" not in block.recipient or block.recipient == "lead0@example-corp.com"
    [event] = bounce_events(report, AT, "ref-1")
    assert event.message_id == MESSAGE_ID.strip("<>").split("@")[0]
    assert event.provider_payload_ref == "ref-1"
    if want["action"] == "failed":
        assert event.event_type is EventType.BOUNCE
        kind = {"5": BounceKind.HARD, "4": BounceKind.SOFT}[want["status"][0]]
        assert event.bounce_kind is kind
        bounce_type = "Permanent" if kind is BounceKind.HARD else "Transient"
        verdict = classify_bounce(bounce_type, "", event.status_code, event.diagnostic)
        assert verdict.cls.value == want["class"], (name, verdict)
    else:
        assert event.event_type is EventType.DEFERRED
        assert classify_delay("", event.status_code, event.diagnostic).cls.value == want["class"]


def test_the_same_report_gives_the_same_event_ids() -> None:
    first = bounce_events(read_report(bounce("exim_text")), AT)  # type: ignore[arg-type]
    again = bounce_events(read_report(bounce("exim_text")), AT)  # type: ignore[arg-type]
    assert [e.event_id for e in first] == [e.event_id for e in again]


@pytest.mark.parametrize("path", sorted(p.name for p in REPLIES.glob("*.eml") if "dsn" not in p.name))
def test_replies_and_auto_replies_are_not_bounce_reports(path: str) -> None:
    assert read_report((REPLIES / path).read_bytes()) is None


def test_a_read_receipt_is_not_a_bounce() -> None:
    raw = (
        b"From: ann@client.example\r\nTo: rep0@acme-mail.com\r\nSubject: Read: Hello\r\n"
        b'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\nYour message was read.\r\n--b--\r\n"
    )
    assert read_report(raw) is None


def test_a_multi_recipient_report_gives_one_event_per_recipient() -> None:
    raw = bounce("postfix_rfc3464").replace(
        b"\r\n--4A1B2.1767694500/mx.example-corp.com\r\nContent-Description: Undelivered",
        b"\r\nFinal-Recipient: rfc822; other@example-corp.com\r\nAction: failed\r\nStatus: 5.2.2\r\n"
        b"\r\n--4A1B2.1767694500/mx.example-corp.com\r\nContent-Description: Undelivered",
    )
    report = read_report(raw)
    assert report is not None
    assert [(r.recipient, r.status) for r in report.recipients] == [
        ("lead0@example-corp.com", "5.1.1"),
        ("other@example-corp.com", "5.2.2"),
    ]
    assert len({e.event_id for e in bounce_events(report, AT)}) == 2
