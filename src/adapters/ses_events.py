"""SES event publishing JSON -> DeliveryEvents, one per recipient.

Accepts configuration-set events (`eventType`) and identity notifications (`notificationType`).
Our tags (tenant, campaign, job) come back in `mail.tags` and route the event straight to its job.
Unknown event types become `unknown` events (logged and archived by the caller), never a crash;
a payload without the fields every event needs is refused with MalformedEventError, saying which.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType

_TYPES = {
    "send": EventType.SENT,
    "delivery": EventType.DELIVERED,
    "bounce": EventType.BOUNCE,
    "complaint": EventType.COMPLAINT,
    "deliverydelay": EventType.DEFERRED,
    "reject": EventType.REJECT,
    "rendering failure": EventType.RENDERING_FAILURE,
    "renderingfailure": EventType.RENDERING_FAILURE,
    "open": EventType.OPEN,
    "click": EventType.CLICK,
    "subscription": EventType.SUBSCRIPTION,
}
_BOUNCE_KIND = {
    "permanent": BounceKind.HARD,
    "transient": BounceKind.SOFT,
    "undetermined": BounceKind.UNDETERMINED,
}
_DETAIL_KEY = {
    EventType.SENT: "send",
    EventType.DELIVERED: "delivery",
    EventType.BOUNCE: "bounce",
    EventType.COMPLAINT: "complaint",
    EventType.DEFERRED: "deliveryDelay",
    EventType.REJECT: "reject",
    EventType.RENDERING_FAILURE: "failure",
    EventType.OPEN: "open",
    EventType.CLICK: "click",
    EventType.SUBSCRIPTION: "subscription",
}


class MalformedEventError(ValueError):
    """The payload is not an SES event we can attribute: names the missing or broken field."""


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedEventError(f"{where}: missing timestamp")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedEventError(f"{where}: bad timestamp {value!r}") from exc


def _tag(tags: Mapping[str, Any], name: str) -> str | None:
    values = tags.get(name)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _event_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def parse_event(payload: str | bytes | Mapping[str, Any], payload_ref: str = "") -> list[DeliveryEvent]:
    """Normalise one SES event. Raises MalformedEventError when it cannot be attributed to a message."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise MalformedEventError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(payload, Mapping):
        raise MalformedEventError("an SES event is a JSON object")
    raw_type = payload.get("eventType") or payload.get("notificationType")
    if not isinstance(raw_type, str):
        raise MalformedEventError("neither eventType nor notificationType is present")
    mail = payload.get("mail")
    if not isinstance(mail, Mapping) or not isinstance(mail.get("messageId"), str) or not mail["messageId"]:
        raise MalformedEventError(f"{raw_type}: mail.messageId is missing")
    event_type = _TYPES.get(raw_type.strip().lower(), EventType.UNKNOWN)
    tags: Mapping[str, Any] = mail["tags"] if isinstance(mail.get("tags"), Mapping) else {}
    detail = payload.get(_DETAIL_KEY.get(event_type, ""), {}) if event_type is not EventType.UNKNOWN else {}
    if not isinstance(detail, Mapping):
        raise MalformedEventError(f"{raw_type}: the {_DETAIL_KEY[event_type]} object is not an object")
    stamp = _timestamp(detail.get("timestamp") or mail.get("timestamp"), f"{raw_type} timestamp")
    common: dict[str, Any] = {
        "event_type": event_type,
        "message_id": mail["messageId"],
        "timestamp": stamp,
        "tenant_id": _tag(tags, "tenant"),
        "campaign_id": _tag(tags, "campaign"),
        "job_id": _tag(tags, "job"),
        "provider_payload_ref": payload_ref,
    }
    recipients = _recipients(event_type, detail, mail)
    feedback_id = str(detail.get("feedbackId", ""))
    events = []
    for recipient, extra in recipients:
        event_id = _event_id(mail["messageId"], raw_type, recipient, stamp.isoformat(), feedback_id)
        events.append(DeliveryEvent(event_id=event_id, recipient=recipient, **common, **extra))
    return events


def _recipients(
    event_type: EventType, detail: Mapping[str, Any], mail: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    destination = [d for d in mail.get("destination", []) if isinstance(d, str)]
    if event_type is EventType.BOUNCE:
        kind = _BOUNCE_KIND.get(str(detail.get("bounceType", "")).lower())
        if kind is None:
            raise MalformedEventError(f"Bounce: unknown bounceType {detail.get('bounceType')!r}")
        subtype = str(detail.get("bounceSubType", ""))
        return [
            (
                str(r.get("emailAddress", "")),
                {
                    "bounce_kind": kind,
                    "bounce_subtype": subtype,
                    "status_code": str(r.get("status") or ""),
                    "diagnostic": str(r.get("diagnosticCode") or ""),
                },
            )
            for r in _entries(detail, "bouncedRecipients", "Bounce")
        ]
    if event_type is EventType.COMPLAINT:
        feedback = str(detail.get("complaintFeedbackType") or detail.get("complaintSubType") or "")
        return [
            (str(r.get("emailAddress", "")), {"complaint_type": feedback})
            for r in _entries(detail, "complainedRecipients", "Complaint")
        ]
    if event_type is EventType.DEFERRED:
        return [
            (
                str(r.get("emailAddress", "")),
                {
                    "status_code": str(r.get("status") or ""),
                    "diagnostic": str(r.get("diagnosticCode") or detail.get("delayType", "")),
                },
            )
            for r in _entries(detail, "delayedRecipients", "DeliveryDelay")
        ]
    if event_type is EventType.DELIVERED:
        smtp = str(detail.get("smtpResponse", ""))
        return [(r, {"diagnostic": smtp}) for r in (detail.get("recipients") or destination)]
    if event_type is EventType.REJECT:
        return [(r, {"diagnostic": str(detail.get("reason", ""))}) for r in destination or [""]]
    if event_type is EventType.RENDERING_FAILURE:
        return [(r, {"diagnostic": str(detail.get("errorMessage", ""))}) for r in destination or [""]]
    return [(r, {}) for r in destination or [""]]


def _entries(detail: Mapping[str, Any], key: str, kind: str) -> list[Mapping[str, Any]]:
    entries = detail.get(key)
    if not isinstance(entries, list) or not entries or not all(isinstance(e, Mapping) for e in entries):
        raise MalformedEventError(f"{kind}: {key} must be a non-empty list of objects")
    return entries
