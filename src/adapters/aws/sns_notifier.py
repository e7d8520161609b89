"""Alerts to an SNS topic (AWS mode): its e-mail subscriptions reach the operators.

The same topic receives CloudWatch alarms and AWS Budgets notifications, so everything that needs a
person arrives in one inbox. Each message carries attributes (origin, kind, severity, tenant) that
subscription filter policies can match, e.g. "only critical" for a pager address, and the alert itself
as JSON (attribute `alert`), from which the Telegram relay subscribed to the topic rebuilds it.
"""

from __future__ import annotations

import json
import unicodedata
from typing import TYPE_CHECKING

from outreach_core.ports import Alert

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

IAM_ACTIONS = frozenset({"sns:Publish"})
ORIGIN = "outreach"
ALERT_ATTRIBUTE = "alert"  # the Alert as JSON, for the relay
SUBJECT_MAX = 99  # SNS: ASCII, no line breaks, fewer than 100 characters


def sns_subject(alert: Alert) -> str:
    text = f"[{alert.severity}] {alert.kind}: {alert.subject}"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = " ".join(ascii_text.split())  # no line breaks or control characters
    return cleaned[:SUBJECT_MAX] or "outreach alert"


def alert_text(alert: Alert) -> str:
    """The plain-text body an operator reads in the e-mail."""
    lines = [
        alert.message,
        "",
        f"kind:     {alert.kind}",
        f"severity: {alert.severity}",
        f"tenant:   {alert.tenant_id or '-'}",
        f"subject:  {alert.subject}",
        f"at:       {alert.at.isoformat()}",
    ]
    if alert.details:
        lines += ["", "details:", json.dumps(dict(alert.details), indent=2, default=str, ensure_ascii=False)]
    lines += ["", "Runbook: docs/runbooks/alerts.md"]
    return "\n".join(lines)


class SnsNotifier:
    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        if not topic_arn:
            raise ValueError("SnsNotifier needs a topic ARN (OUTREACH_ALERT_TOPIC_ARN)")
        self.client = client
        self.topic_arn = topic_arn

    def notify(self, alert: Alert) -> None:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "origin": {"DataType": "String", "StringValue": ORIGIN},
            "kind": {"DataType": "String", "StringValue": alert.kind},
            "severity": {"DataType": "String", "StringValue": alert.severity},
        }
        if alert.tenant_id:
            attributes["tenant"] = {"DataType": "String", "StringValue": alert.tenant_id}
        attributes[ALERT_ATTRIBUTE] = {"DataType": "String", "StringValue": alert.model_dump_json()}
        self.client.publish(
            TopicArn=self.topic_arn,
            Subject=sns_subject(alert),
            Message=alert_text(alert),
            MessageAttributes=attributes,
        )
