"""SES event publishing JSON -> DeliveryEvents, one per recipient.

Accepts configuration-set events (`eventType`) and identity notifications (`notificationType`).
Our tags (tenant, campaign, job) come back in `mail.tags` and route the event straight to its job.
Every SES type is understood: Send, Delivery, Bounce (Permanent / Transient / Undetermined, any
subtype), Complaint (feedback type, complaintSubType), DeliveryDelay (delay type), Reject,
"Rendering Failure" (note the space), Subscription, Open and Click. A type SES adds later becomes an
`unknown` event (logged here, archived and claimed by the caller), never a crash.

A payload is normalised whole or refused whole: MalformedEventError names the missing or broken field,
and no event of a refused payload reaches the core (so nothing of it is half-applied).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog

from adapters.json_limits import loads as bounded_loads
from outreach_core.domain.events import BounceKind, DeliveryEvent, EventType
from outreach_core.policies.responses import enhanced_status

log = structlog.get_logger(__name__)

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
# Types whose detail object is the whole point: without it the event cannot be applied correctly.
_DETAIL_REQUIRED = frozenset({EventType.BOUNCE, EventType.COMPLAINT, EventType.DEFERRED})


class MalformedEventError(ValueError):
    """The payload is not an SES event we can attribute: names the missing or broken field."""


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedEventError(f"{where}: missing timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedEventError(f"{where}: bad timestamp {value!r}") from exc
    if parsed.tzinfo is None:
        raise MalformedEventError(f"{where}: timestamp {value!r} has no time zone")
    return parsed


def _tag(tags: Mapping[str, Any], name: str) -> str | None:
    values = tags.get(name)
    if isinstance(values, list) and values and isinstance(values[0], str):
        return values[0]
    return None


def _event_id(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def rfc_message_id(message_id: str, source_arn: Any) -> str:
    """The Message-ID SES wrote into the message (`<id@email.amazonses.com>` in us-east-1, else
    `<id@<region>.amazonses.com>`), from the region in mail.sourceArn; "" when that is not given."""
    parts = source_arn.split(":") if isinstance(source_arn, str) else []
    if len(parts) < 6 or parts[2] != "ses" or not parts[3]:
        return ""
    host = "email.amazonses.com" if parts[3] == "us-east-1" else f"{parts[3]}.amazonses.com"
    return f"<{message_id}@{host}>"


def decode(payload: str | bytes | Mapping[str, Any]) -> Mapping[str, Any]:
    """The payload as a JSON object, or MalformedEventError saying why it is not one."""
    if isinstance(payload, (str, bytes)):
        try:
            payload = bounded_loads(payload)
        except json.JSONDecodeError as exc:
            raise MalformedEventError(f"not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
        except UnicodeDecodeError as exc:
            raise MalformedEventError(f"not UTF-8 JSON: {exc.reason}") from exc
        except ValueError as exc:  # nested too deeply
            raise MalformedEventError(f"not an SES event: {exc}") from exc
    if not isinstance(payload, Mapping):
        raise MalformedEventError(f"an SES event is a JSON object, not {type(payload).__name__}")
    return payload


def parse_event(payload: str | bytes | Mapping[str, Any], payload_ref: str = "") -> list[DeliveryEvent]:
    """Normalise one SES event. Raises MalformedEventError when it cannot be attributed to a message."""
    payload = decode(payload)
    raw_type = payload.get("eventType") or payload.get("notificationType")
    if not isinstance(raw_type, str) or not raw_type.strip():
        raise MalformedEventError("neither eventType nor notificationType is present")
    mail = payload.get("mail")
    if not isinstance(mail, Mapping):
        raise MalformedEventError(f"{raw_type}: the mail object is missing")
    message_id = mail.get("messageId")
    if not isinstance(message_id, str) or not message_id:
        raise MalformedEventError(f"{raw_type}: mail.messageId is missing")
    event_type = _TYPES.get(raw_type.strip().lower(), EventType.UNKNOWN)
    tags: Mapping[str, Any] = mail["tags"] if isinstance(mail.get("tags"), Mapping) else {}
    detail: Any = {}
    if event_type is not EventType.UNKNOWN:
        key = _DETAIL_KEY[event_type]
        if key not in payload and event_type in _DETAIL_REQUIRED:
            raise MalformedEventError(f"{raw_type}: the {key} object is missing")
        detail = payload.get(key) or {}
        if not isinstance(detail, Mapping):
            raise MalformedEventError(f"{raw_type}: the {key} object is not an object")
    else:
        log.warning("ses.unknown_event_type", provider_event_type=raw_type[:64], message_id=message_id)
    stamp = _timestamp(detail.get("timestamp") or mail.get("timestamp"), f"{raw_type} timestamp")
    headers: Mapping[str, Any] = (
        mail["commonHeaders"] if isinstance(mail.get("commonHeaders"), Mapping) else {}
    )
    common: dict[str, Any] = {
        "event_type": event_type,
        "message_id": message_id,
        "timestamp": stamp,
        "tenant_id": _tag(tags, "tenant"),
        "campaign_id": _tag(tags, "campaign"),
        "job_id": _tag(tags, "job"),
        "provider_event_type": raw_type,
        "provider_payload_ref": payload_ref,
        "subject": str(headers.get("subject") or "")[:500],
        "rfc_message_id": rfc_message_id(message_id, mail.get("sourceArn")),
    }
    feedback_id = str(detail.get("feedbackId", ""))
    events = []
    for recipient, extra in _recipients(raw_type, event_type, detail, mail):
        event_id = _event_id(message_id, raw_type, recipient, stamp.isoformat(), feedback_id)
        events.append(DeliveryEvent(event_id=event_id, recipient=recipient, **common, **extra))
    return events


def _recipients(
    raw_type: str, event_type: EventType, detail: Mapping[str, Any], mail: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    destination = mail.get("destination", [])
    if not isinstance(destination, list) or not all(isinstance(d, str) for d in destination):
        raise MalformedEventError(f"{raw_type}: mail.destination must be a list of addresses")
    if event_type is EventType.BOUNCE:
        kind = _BOUNCE_KIND.get(str(detail.get("bounceType", "")).lower())
        if kind is None:
            raise MalformedEventError(f"{raw_type}: unknown bounceType {detail.get('bounceType')!r}")
        # Unknown subtypes are kept as they are: a Permanent bounce suppresses whatever its subtype says.
        subtype = str(detail.get("bounceSubType") or "")
        return [
            (
                address,
                {
                    "bounce_kind": kind,
                    "bounce_subtype": subtype,
                    "status_code": str(entry.get("status") or ""),
                    "diagnostic": str(entry.get("diagnosticCode") or ""),
                },
            )
            for address, entry in _entries(raw_type, detail, "bouncedRecipients")
        ]
    if event_type is EventType.COMPLAINT:
        extra = {
            "complaint_type": str(detail.get("complaintFeedbackType") or ""),
            "complaint_subtype": str(detail.get("complaintSubType") or ""),
        }
        return [(address, dict(extra)) for address, _ in _entries(raw_type, detail, "complainedRecipients")]
    if event_type is EventType.DEFERRED:
        delay_type = str(detail.get("delayType") or "")
        return [
            (
                address,
                {
                    "delay_type": delay_type,
                    "status_code": str(entry.get("status") or ""),
                    "diagnostic": str(entry.get("diagnosticCode") or delay_type),
                },
            )
            for address, entry in _entries(raw_type, detail, "delayedRecipients")
        ]
    if event_type is EventType.DELIVERED:
        recipients = detail.get("recipients") or destination
        if not isinstance(recipients, list) or not all(_is_address(r) for r in recipients):
            raise MalformedEventError(f"{raw_type}: delivery.recipients must be a list of addresses")
        smtp = str(detail.get("smtpResponse", ""))
        return [(r, {"diagnostic": smtp, "status_code": enhanced_status(smtp)}) for r in recipients]
    if event_type is EventType.REJECT:
        return [(r, {"diagnostic": str(detail.get("reason", ""))}) for r in destination or [""]]
    if event_type is EventType.RENDERING_FAILURE:
        text = str(detail.get("errorMessage", ""))
        template = str(detail.get("templateName", ""))
        diagnostic = f"{template}: {text}" if template else text
        return [(r, {"diagnostic": diagnostic}) for r in destination or [""]]
    if event_type is EventType.SUBSCRIPTION:
        # We keep one list per tenant: leaving everything, or opting out of any topic, is an unsubscribe;
        # an opt-in only is recorded and changes nothing.
        preferences = detail.get("newTopicPreferences")
        preferences = preferences if isinstance(preferences, Mapping) else {}
        topics = preferences.get("topicSubscriptionStatus")
        opted_out = preferences.get("unsubscribeAll") is True or (
            isinstance(topics, list)
            and any(isinstance(t, Mapping) and t.get("subscriptionStatus") == "OptOut" for t in topics)
        )
        source = str(detail.get("source", ""))
        return [(r, {"opted_out": opted_out, "diagnostic": source}) for r in destination or [""]]
    if event_type is EventType.CLICK:
        return [(r, {"diagnostic": str(detail.get("link", ""))[:500]}) for r in destination or [""]]
    return [(r, {}) for r in destination or [""]]


def _is_address(value: Any) -> bool:
    return isinstance(value, str) and value.count("@") == 1 and " " not in value.strip()


def _entries(raw_type: str, detail: Mapping[str, Any], key: str) -> list[tuple[str, Mapping[str, Any]]]:
    entries = detail.get(key)
    if not isinstance(entries, list) or not entries:
        raise MalformedEventError(f"{raw_type}: {key} must be a non-empty list of objects")
    out = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            raise MalformedEventError(f"{raw_type}: {key}[{index}] is not an object")
        address = entry.get("emailAddress")
        if not _is_address(address):
            raise MalformedEventError(f"{raw_type}: {key}[{index}].emailAddress is missing or not an address")
        out.append((str(address).strip(), entry))
    return out
