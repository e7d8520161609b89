"""Bounce reports read from a mailbox -> DeliveryEvents, for the same feedback path as SES's events.

RFC 3464 `multipart/report; report-type=delivery-status` first: each per-recipient block gives the
Final-Recipient, the Action (failed, delayed, delivered, ...), the Status (5.1.1) and the
Diagnostic-Code (the receiving MTA's reply); the returned message (message/rfc822 or
text/rfc822-headers) gives the Message-ID of ours it is about. Then the common non-standard forms -
Exim's and qmail's plain-text bounces, Gmail's and Exchange's human-readable notices, Postfix's and
others' text when the report part is missing: recognised by the sender (MAILER-DAEMON, postmaster)
or the subject, with the status, the reply text and our Message-ID read from the text.

This module only reads: the class of the failure (hard, mailbox full, sender block, ...) is the core's
response classifier's decision (policies.responses.classify_bounce), as for SES bounces.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, message_from_string, policy
from email.message import Message
from email.utils import parseaddr

from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType
from outreach_core.policies.responses import enhanced_status

_BOUNCER = re.compile(r"^(?:mailer-daemon|postmaster|mail-daemon|mailer|bounces?|nobody)$", re.IGNORECASE)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery (?:status notification|has failed|failure|failed|problem)"
    r"|mail delivery (?:failed|failure|system)|returned mail|failure notice|non[- ]?delivery"
    r"|could not be delivered|delivery incomplete|address not found|недоставлен|не доставлено"
    r"|не удалось доставить|возврат письма",
    re.IGNORECASE,
)
_COPY_MARKERS = re.compile(
    r"this is a copy of the message|below this line is a copy of the message|original message follows"
    r"|-{3,}\s*original message\s*-{3,}|message headers follow|------ this is a copy",
    re.IGNORECASE,
)
_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^<>\s]+>)", re.IGNORECASE | re.MULTILINE)
_REPLY_LINE = re.compile(
    r"(?:^|[\s'\"(])((?:[45]\d\d)[ -](?:[45]\.\d{1,3}\.\d{1,3})?[^\n'\"]{0,300})", re.MULTILINE
)
_DELAYED = re.compile(
    r"\bdelayed\b|will (?:retry|keep trying|continue trying)|not yet been delivered|still trying|"
    r"temporary (?:failure|problem|error)|задерж",
    re.IGNORECASE,
)
_PERMANENT = re.compile(
    r"permanent(?:ly)? (?:error|failure|fatal)|i've given up|couldn't be found|could not be found"
    r"|does(?:n't| not) exist|wasn't delivered|was not delivered|delivery has failed|failed permanently",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class RecipientReport:
    recipient: str
    action: str  # failed | delayed | delivered | relayed | expanded (RFC 3464 §2.3.3)
    status: str = ""  # enhanced status, 5.1.1
    diagnostic: str = ""  # the remote MTA's reply, as the report quotes it


@dataclass(frozen=True)
class BounceReport:
    original_message_id: str  # ours, with angle brackets ("" when the report does not say)
    recipients: tuple[RecipientReport, ...]
    form: str  # rfc3464 | text
    report_id: str = ""  # the report's own Message-ID
    subject: str = ""
    sender: str = ""
    extra_ids: tuple[str, ...] = field(default=())  # In-Reply-To / References of the report itself


def _header(message: Message, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):
        return ""
    return str(value).strip() if value is not None else ""


def _address(field_value: str) -> str:
    """`rfc822; ann@example.com` -> ann@example.com."""
    value = field_value.split(";", 1)[1] if ";" in field_value else field_value
    return value.strip().strip("<>").lower()


def _text_of(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return payload.decode(part.get_content_charset() or "utf-8", "replace")
    raw = part.get_payload()
    return raw if isinstance(raw, str) else ""


def _original_id(message: Message) -> str:
    for part in message.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                found = _header(inner[0], "Message-ID")
                if found:
                    return found
        if ctype == "text/rfc822-headers":
            found = _header(message_from_string(_text_of(part), policy=policy.compat32), "Message-ID")
            if found:
                return found
    return ""


def _rfc3464(message: Message) -> tuple[RecipientReport, ...] | None:
    for part in message.walk():
        if part.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
            continue
        blocks = part.get_payload()
        if isinstance(blocks, str):  # some MTAs' reports do not parse into blocks: parse them here
            blocks = [message_from_string(b, policy=policy.compat32) for b in re.split(r"\n\s*\n", blocks)]
        if not isinstance(blocks, list):
            return None
        found: list[RecipientReport] = []
        for block in blocks:
            if not isinstance(block, Message):
                continue
            recipient = _header(block, "Final-Recipient") or _header(block, "Original-Recipient")
            action = _header(block, "Action").lower()
            if not recipient or not action:
                continue
            diagnostic = _header(block, "Diagnostic-Code")
            diagnostic = diagnostic.split(";", 1)[1].strip() if ";" in diagnostic else diagnostic
            status = _header(block, "Status").split()[0] if _header(block, "Status") else ""
            found.append(RecipientReport(_address(recipient), action, status, " ".join(diagnostic.split())))
        return tuple(found)
    return None


def _looks_like_bounce(message: Message) -> bool:
    sender = parseaddr(_header(message, "From"))[1]
    local = sender.rsplit("@", 1)[0] if "@" in sender else sender
    return bool(_BOUNCER.match(local)) or bool(_BOUNCE_SUBJECT.search(_header(message, "Subject")))


def _body_text(message: Message) -> str:
    texts = [
        _text_of(part)
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html") and not part.is_multipart()
    ]
    return "\n".join(texts)


def _from_text(message: Message, body: str) -> tuple[tuple[RecipientReport, ...], str]:
    """(recipients, our Message-ID) from a human-readable bounce."""
    marker = _COPY_MARKERS.search(body)
    explanation = body[: marker.start()] if marker else body
    quoted = body[marker.start() :] if marker else ""
    original = _original_id(message)
    if not original:
        ids = _MESSAGE_ID.findall(quoted) or _MESSAGE_ID.findall(body)
        original = ids[0] if ids else ""
    replies = [m.group(1).strip() for m in _REPLY_LINE.finditer(explanation)]
    reply = next((r for r in replies if enhanced_status(r)), replies[0] if replies else "")
    status = enhanced_status(reply) or enhanced_status(explanation)
    if _DELAYED.search(explanation) and not _PERMANENT.search(explanation) and not status.startswith("5."):
        action = "delayed"
    elif status or reply or _PERMANENT.search(explanation):
        action = "failed"
    else:
        return (), original
    return (
        RecipientReport("", action, status, " ".join(reply.split()) or _first_lines(explanation)),
    ), original


def _first_lines(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:3])[:300]


def read_report(raw: bytes) -> BounceReport | None:
    """The bounce report in these bytes, or None when they are not one (a reply, an auto-reply)."""
    message = message_from_bytes(raw, policy=policy.compat32)
    if not message.keys():
        return None
    common = {
        "report_id": _header(message, "Message-ID"),
        "subject": _header(message, "Subject")[:300],
        "sender": parseaddr(_header(message, "From"))[1].lower(),
        "extra_ids": tuple(
            re.findall(r"<[^<>\s]+>", _header(message, "In-Reply-To") + " " + _header(message, "References"))
        ),
    }
    ctype = message.get_content_type()
    report_type = (message.get_param("report-type") or "") if ctype == "multipart/report" else ""
    if ctype == "multipart/report" and str(report_type).lower() != "delivery-status":
        return None  # a read receipt (disposition-notification) or an abuse report: not a bounce
    recipients = _rfc3464(message) if ctype == "multipart/report" else None
    if recipients:
        return BounceReport(_original_id(message), recipients, "rfc3464", **common)  # type: ignore[arg-type]
    if not _looks_like_bounce(message):
        return None
    found, original = _from_text(message, _body_text(message))
    if not found:
        return None
    return BounceReport(original, found, "text", **common)  # type: ignore[arg-type]


def local_part(message_id: str) -> str:
    return message_id.strip().strip("<>").split("@", 1)[0].strip()


def bounce_events(report: BounceReport, received_at: datetime, payload_ref: str = "") -> list[DeliveryEvent]:
    """One event per recipient block: failed -> bounce (hard for a 5.x.x or an unexplained permanent
    failure, soft for a 4.x.x the MTA gave up on), delayed -> deferred, delivered -> delivered."""
    candidates = [report.original_message_id, *reversed(report.extra_ids)]
    message_id = next((local_part(i) for i in candidates if local_part(i)), "")
    events: list[DeliveryEvent] = []
    for index, block in enumerate(report.recipients):
        digest = hashlib.sha256(
            f"{report.report_id or report.original_message_id}\x1f{block.recipient}\x1f{index}".encode()
        ).hexdigest()[:32]
        base = {
            "event_id": f"dsn-{digest}",
            "message_id": message_id,
            "timestamp": received_at,
            "recipient": block.recipient,
            "status_code": block.status,
            "diagnostic": block.diagnostic[:1000],
            "provider_event_type": f"DSN {block.action}",
            "provider_payload_ref": payload_ref,
        }
        if block.action == "failed":
            kind = BounceKind.SOFT if block.status.startswith("4.") else BounceKind.HARD
            events.append(DeliveryEvent(event_type=EventType.BOUNCE, bounce_kind=kind, **base))
        elif block.action == "delayed":
            events.append(DeliveryEvent(event_type=EventType.DEFERRED, **base))
        elif block.action in ("delivered", "relayed", "expanded"):
            events.append(DeliveryEvent(event_type=EventType.DELIVERED, **base))
    return events


__all__ = ["BounceReport", "RecipientReport", "bounce_events", "read_report"]
