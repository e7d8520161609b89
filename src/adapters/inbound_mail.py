"""Inbound mail (raw MIME, as SES receiving stores it) -> InboundReply, with the stdlib email package.

Reads what matching and classification need and nothing more: In-Reply-To / References, reply tokens
in the recipient addresses (`reply+<token>@...`), the sender, the signal headers (Auto-Submitted,
X-Autoreply, Precedence, List-Id, Content-Type, Return-Path, ...), the subject, and the new part of
the text (quoted history and signatures cut off, HTML reduced to text). Deciding what the message is
belongs to the core (outreach_core.policies.replies).

Also reads SES receipt notifications (`notificationType: Received`): the S3 location of the stored
message, or the message itself when the receipt rule's SNS action carried it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from outreach_core.domain.events import InboundReply

SIGNAL_HEADERS = (
    "auto-submitted",
    "x-autoreply",
    "x-autorespond",
    "x-autoresponder",
    "precedence",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "content-type",
    "return-path",
)
MAX_TEXT = 8000
_MSG_ID = re.compile(r"<([^<>\s]+)>")
_QUOTE_START = re.compile(
    r"^\s*(?:>|On .{0,200}wrote:\s*$|-{2,}\s*Original Message\s*-{2,}|-{2,}\s*Forwarded message"
    r"|From:\s.+|Sent from my \w+|От:\s.+|-{2,}\s*Исходное сообщение\s*-{2,}|.{0,200}пишет:\s*$"
    r"|.{0,200}<[^<>\s@]+@[^<>\s]+>\s*(?:wrote|пишет|написал\S*)?:\s*$|--\s*$)",
    re.IGNORECASE,
)
_TAG = re.compile(r"<[^>]+>")
_BLOCK = re.compile(r"<(?:br|/p|/div|/tr|/li|/h\d)\b[^>]*>", re.IGNORECASE)
_DROP = re.compile(r"<(script|style|head)\b.*?</\1>", re.IGNORECASE | re.DOTALL)
_BLOCKQUOTE = re.compile(r"<blockquote\b.*?</blockquote>", re.IGNORECASE | re.DOTALL)


class InboundMailError(ValueError):
    """Not a message we can read (no headers, no sender)."""


def _ids(value: str | None) -> list[str]:
    return [f"<{m}>" for m in _MSG_ID.findall(value or "")]


def _header(message: EmailMessage, name: str) -> str:
    try:
        value = message.get(name)
    except (ValueError, IndexError):  # a header the parser cannot fold back
        return ""
    return str(value).strip() if value is not None else ""


def _tokens(addresses: Iterable[str]) -> tuple[str, ...]:
    tokens: list[str] = []
    for address in addresses:
        local = address.rsplit("@", 1)[0]
        if "+" in local:
            token = local.split("+", 1)[1]
            if token and token not in tokens:
                tokens.append(token)
    return tuple(tokens)


def html_to_text(markup: str) -> str:
    markup = _BLOCKQUOTE.sub("\n", _DROP.sub(" ", markup))  # quoted history in HTML mail
    return html.unescape(_TAG.sub("", _BLOCK.sub("\n", markup)))


def new_text(body: str) -> str:
    """The part a person just wrote: everything before the first quoted or signature line."""
    kept: list[str] = []
    for line in body.replace("\r\n", "\n").split("\n"):
        if _QUOTE_START.match(line):
            break
        kept.append(line.rstrip())
    return "\n".join(kept).strip()[:MAX_TEXT]


def _body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, UnicodeDecodeError, AssertionError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    if not isinstance(content, str):
        return ""
    return html_to_text(content) if part.get_content_type() == "text/html" else content


def parse_inbound(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    envelope_recipients: Iterable[str] = (),
    tenant_id: str | None = None,
    event_id: str = "",
    payload_ref: str = "",
) -> InboundReply:
    """Raises InboundMailError when the bytes are not a message with a sender."""
    message = message_from_bytes(raw, policy=policy.default)
    if not isinstance(message, EmailMessage) or not message.keys():
        raise InboundMailError("no message headers")
    sender = parseaddr(_header(message, "From"))[1].strip().lower()
    if "@" not in sender:
        raise InboundMailError("the message has no From address")
    if received_at is None:
        try:
            received_at = parsedate_to_datetime(_header(message, "Date"))
        except (TypeError, ValueError) as exc:
            raise InboundMailError("no receipt time and no usable Date header") from exc
        if received_at.tzinfo is None:
            raise InboundMailError("the Date header has no time zone")
    recipients = [
        a.lower()
        for _, a in getaddresses(
            [
                _header(message, h)
                for h in ("To", "Cc", "Delivered-To", "X-Original-To")
                if _header(message, h)
            ]
        )
        if a
    ] + [r.lower() for r in envelope_recipients]
    headers = {name: _header(message, name) for name in SIGNAL_HEADERS if _header(message, name)}
    message_id = _header(message, "Message-ID")
    return InboundReply(
        event_id=event_id or "inbound-" + hashlib.sha256(message_id.encode() or raw).hexdigest()[:32],
        tenant_id=tenant_id,
        in_reply_to=(_ids(_header(message, "In-Reply-To")) or [""])[0],
        references=tuple(_ids(_header(message, "References"))),
        reply_tokens=_tokens(recipients),
        sender=sender,
        received_at=received_at,
        headers=headers,
        subject=_header(message, "Subject")[:500],
        text=new_text(_body(message)),
        payload_ref=payload_ref,
    )


# --- SES receipt notifications -------------------------------------------------------------------


@dataclass(frozen=True)
class ReceiptNotice:
    message_id: str  # SES's id of the inbound message (also the S3 object name)
    received_at: datetime
    recipients: tuple[str, ...]
    bucket: str = ""
    key: str = ""
    content: bytes | None = None  # present when an SNS action carried the message itself


def is_receipt(body: Mapping[str, Any]) -> bool:
    return body.get("notificationType") == "Received"


def receipt_notice(body: Mapping[str, Any]) -> ReceiptNotice:
    """Where the received message is. Raises InboundMailError naming what is missing."""
    receipt = body.get("receipt")
    mail = body.get("mail")
    if not isinstance(receipt, Mapping) or not isinstance(mail, Mapping):
        raise InboundMailError("Received: the receipt or mail object is missing")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise InboundMailError("Received: mail.messageId is missing")
    try:
        received_at = datetime.fromisoformat(str(receipt.get("timestamp")).replace("Z", "+00:00"))
    except ValueError as exc:
        raise InboundMailError("Received: receipt.timestamp is missing or bad") from exc
    recipients = tuple(str(r) for r in receipt.get("recipients") or () if isinstance(r, str))
    action = receipt.get("action") if isinstance(receipt.get("action"), Mapping) else {}
    content = body.get("content")
    if isinstance(content, str) and content:
        return ReceiptNotice(message_id, received_at, recipients, content=_content_bytes(content))
    if isinstance(action, Mapping) and action.get("type") == "S3":
        bucket, key = action.get("bucketName"), action.get("objectKey")
        if isinstance(bucket, str) and bucket and isinstance(key, str) and key:
            return ReceiptNotice(message_id, received_at, recipients, bucket=bucket, key=key)
        raise InboundMailError("Received: the S3 action names no bucketName / objectKey")
    raise InboundMailError("Received: neither content nor an S3 location (use an S3 or SNS action)")


def _content_bytes(content: str) -> bytes:
    """SNS actions carry the message as UTF-8 text or, with Base64 encoding, as base64."""
    head = content[:200]
    if ":" not in head and " " not in head.strip():
        try:
            return base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            pass
    return content.encode("utf-8", "surrogateescape")
