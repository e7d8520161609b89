"""The webhook delivery queue on SQS, as the functions that publish see it: send only.

Publishers (planner, sender, feedback, unsubscribe, the IMAP poller) put a message naming a delivery;
the webhook function, triggered by the queue's event source mapping, delivers it and, when the
receiver failed, sends the next attempt as a new delayed message. So every one of them needs
sqs:SendMessage on this queue and nothing else; receiving and deleting are the event source
mapping's (the lambda_function module's platform policy).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from outreach_core.ports import QueueMessage, ReceivedMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

IAM_ACTIONS = frozenset({"sqs:SendMessage"})
MAX_DELAY_SECONDS = 900


class SqsOutbox:
    def __init__(self, client: SQSClient, queue_url: str) -> None:
        if not queue_url:
            raise ValueError("SqsOutbox needs a queue URL (OUTREACH_WEBHOOK_QUEUE_URL)")
        self.client = client
        self.queue_url = queue_url

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        delay = max(0, min(MAX_DELAY_SECONDS, delay_seconds))
        group: dict[str, Any] = {"MessageGroupId": message.group} if message.group else {}  # fair queue
        response = self.client.send_message(
            QueueUrl=self.queue_url, MessageBody=message.body, DelaySeconds=delay, **group
        )
        return response["MessageId"]


def received(record: Mapping[str, Any]) -> ReceivedMessage:
    """An SQS record of a Lambda event as the port's ReceivedMessage."""
    attributes: Mapping[str, str] = record.get("attributes", {})
    return ReceivedMessage(
        message_id=record["messageId"],
        receipt=record["receiptHandle"],
        body=record["body"],
        group=attributes.get("MessageGroupId", ""),
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
    )
