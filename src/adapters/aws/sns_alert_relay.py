"""Alerts from the SNS alert topic, for the Telegram relay: CloudWatch alarm state changes and AWS
Budgets notifications reach the topic directly (and so the operators' e-mail); the relay Lambda
subscribed to the topic turns them into Alerts for Telegram. Messages the engine published itself
(attribute origin=outreach) are skipped: they went to Telegram already.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from adapters.aws.sns_notifier import ORIGIN
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


def alerts_from_sns(event: Mapping[str, Any], now: datetime) -> list[Alert]:
    alerts = []
    for record in event.get("Records", []):
        sns = record.get("Sns", {}) if isinstance(record, Mapping) else {}
        attributes = sns.get("MessageAttributes") or {}
        origin = attributes.get("origin", {}) if isinstance(attributes, Mapping) else {}
        if isinstance(origin, Mapping) and origin.get("Value") == ORIGIN:
            continue
        message = str(sns.get("Message") or "")
        subject = str(sns.get("Subject") or "")
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
