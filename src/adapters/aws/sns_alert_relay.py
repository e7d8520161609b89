"""Alerts from the SNS alert topic, for the Telegram relay: the engine's own alerts, CloudWatch alarm
state changes and AWS Budgets notifications all reach the topic (and so the operators' e-mail); the
relay Lambda subscribed to the topic turns each into an Alert for Telegram. The engine's messages
(attribute origin=outreach) carry the alert as JSON in the `alert` attribute and are rebuilt exactly;
without it (a hand-published test, an older sender) the other attributes and the text stand in.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from adapters.aws.sns_notifier import ALERT_ATTRIBUTE, ORIGIN
from outreach_core.ports import Alert

IAM_ACTIONS: frozenset[str] = frozenset()  # parsing only: no AWS calls
MESSAGE_LIMIT = 1500


def _when(text: object, default: datetime) -> datetime:
    if not isinstance(text, str):
        return default
    try:
        # CloudWatch writes "2026-01-05T09:00:00.000+0000"
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return default


def _alarm(body: Mapping[str, Any], now: datetime) -> Alert:
    name = str(body.get("AlarmName", "alarm"))
    state = str(body.get("NewStateValue", "?"))
    return Alert(
        kind="alarm",
        severity="critical" if state == "ALARM" else "info",
        subject=name,
        message=f"{name} is {state}: {body.get('NewStateReason', '')}"[:MESSAGE_LIMIT],
        at=_when(body.get("StateChangeTime"), now),
        details={
            "previous": body.get("OldStateValue", ""),
            "region": body.get("Region", ""),
            "description": (body.get("AlarmDescription") or "")[:200],
        },
    )


def _attribute(attributes: object, name: str) -> str:
    value = attributes.get(name) if isinstance(attributes, Mapping) else None
    return str(value.get("Value") or "") if isinstance(value, Mapping) else ""


def _engine_alert(attributes: object, subject: str, message: str, at: datetime) -> Alert:
    try:
        return Alert.model_validate_json(_attribute(attributes, ALERT_ATTRIBUTE))
    except ValidationError:
        return Alert(
            kind=_attribute(attributes, "kind") or "alert",
            severity=_attribute(attributes, "severity") or "warning",
            tenant_id=_attribute(attributes, "tenant") or None,
            subject=subject or "outreach alert",
            message=message.split("\n\n", 1)[0][:MESSAGE_LIMIT],
            at=at,
        )


def alerts_from_sns(event: Mapping[str, Any], now: datetime) -> list[Alert]:
    alerts = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {}) if isinstance(record, Mapping) else {}
        attributes = sns.get("MessageAttributes") or {}
        message = str(sns.get("Message") or "")
        subject = str(sns.get("Subject") or "")
        if _attribute(attributes, "origin") == ORIGIN:
            alerts.append(_engine_alert(attributes, subject, message, _when(sns.get("Timestamp"), now)))
            continue
        try:
            body = json.loads(message)
        except ValueError:
            body = None
        if isinstance(body, Mapping) and "AlarmName" in body:
            alerts.append(_alarm(body, now))
        elif "budget" in subject.lower() or message.startswith("AWS Budget"):
            alerts.append(
                Alert(
                    kind="budget.threshold",
                    severity="warning",
                    subject=subject or "AWS Budgets",
                    message=message[:MESSAGE_LIMIT],
                    at=_when(sns.get("Timestamp"), now),
                )
            )
        else:
            alerts.append(
                Alert(
                    kind="alarm",
                    severity="warning",
                    subject=subject or "notification on the alert topic",
                    message=message[:MESSAGE_LIMIT],
                    at=_when(sns.get("Timestamp"), now),
                )
            )
    return alerts
