"""JobQueue on SQS: a standard queue used as a fair queue (MessageGroupId = tenant) plus its DLQ.

- send: DelaySeconds <= 900 (longer waits stay with the planner's WAKE timers), MessageGroupId = group.
  send_many: SendMessageBatch, 10 entries a request; entries SQS failed on its side are sent again.
- receive: batches of up to 10 per call (the CLI and tests; on AWS the Lambda event source mapping
  receives, and `from_lambda_record` turns its records into ReceivedMessages).
- ack: DeleteMessage; a stale or unknown receipt is harmless.
- dead_letter: the message is copied to the DLQ with the reason as a message attribute, then deleted.
  SQS cannot read a message back by its receipt, so the adapter remembers the messages it handed out
  (bounded); the redrive policy (maxReceiveCount) dead-letters the rest by itself.
- dead_letters: lists the DLQ without consuming it: receive with a short visibility timeout, then
  make every listed message visible again. Each listing counts as a receive of the DLQ copy.
- redrive: moves DLQ messages (all, or the listed ids) back to the queue: send, then delete.
- stats: queue attributes for the counts; the age of the oldest message is CloudWatch's
  ApproximateAgeOfOldestMessage (SQS has no attribute for it), 0 when no datapoint exists yet.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from outreach_core.ports import Clock, DeadLetter, QueueMessage, QueueStats, ReceivedMessage

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch.client import CloudWatchClient
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

IAM_ACTIONS = frozenset(
    {
        "sqs:SendMessage",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueAttributes",
        "cloudwatch:GetMetricData",
    }
)
SQS_MAX_DELAY_S = 900
SQS_MAX_BATCH = 10
_SYSTEM_ATTRIBUTES: list[Any] = ["ApproximateReceiveCount", "SentTimestamp", "MessageGroupId"]
_REMEMBERED = 1000  # receipts kept for dead_letter: a few Lambda batches' worth
_REASON_MAX = 1000
_BATCH_ATTEMPTS = 3  # entries of a batch SQS failed on its side (not ours) are sent again


def queue_name(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


def _group(group: str) -> dict[str, Any]:
    """MessageGroupId makes a standard queue a fair queue: each tenant is one group (none if empty)."""
    return {"MessageGroupId": group} if group else {}


def _attribute(message: MessageTypeDef, name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name)
    return value.get("StringValue") if value else None


class SqsJobQueue:
    max_delay_seconds = SQS_MAX_DELAY_S

    def __init__(
        self,
        client: SQSClient,
        queue_url: str,
        dlq_url: str,
        clock: Clock,
        *,
        metrics_client: Callable[[], CloudWatchClient] | None = None,
        wait_seconds: int = 0,
        peek_visibility_s: int = 30,
    ) -> None:
        self.client = client
        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.clock = clock
        self._metrics_client = metrics_client  # called on the first stats(): senders never pay for it
        self.wait_seconds = wait_seconds
        self.peek_visibility_s = peek_visibility_s
        self._handed_out: OrderedDict[str, ReceivedMessage] = OrderedDict()

    # --- the main queue ------------------------------------------------------------------------

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        if not 0 <= delay_seconds <= self.max_delay_seconds:
            raise ValueError(f"delay must be within 0..{self.max_delay_seconds} s, got {delay_seconds}")
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.body,
            DelaySeconds=delay_seconds,
            **_group(message.group),
        )
        return response["MessageId"]

    def send_many(self, messages: Sequence[tuple[QueueMessage, int]]) -> list[str]:
        for _, delay_seconds in messages:
            if not 0 <= delay_seconds <= self.max_delay_seconds:
                raise ValueError(f"delay must be within 0..{self.max_delay_seconds} s, got {delay_seconds}")
        ids: list[str] = [""] * len(messages)
        for start in range(0, len(messages), SQS_MAX_BATCH):
            pending = list(range(start, min(start + SQS_MAX_BATCH, len(messages))))
            for _ in range(_BATCH_ATTEMPTS):
                entries: list[Any] = [
                    {
                        "Id": str(index),
                        "MessageBody": messages[index][0].body,
                        "DelaySeconds": messages[index][1],
                        **_group(messages[index][0].group),
                    }
                    for index in pending
                ]
                response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
                for done in response.get("Successful", []):
                    ids[int(done["Id"])] = done["MessageId"]
                failed = response.get("Failed", [])
                if any(f.get("SenderFault") for f in failed):
                    first = next(f for f in failed if f.get("SenderFault"))
                    raise ValueError(
                        f"SQS refused a message: {first.get('Code')}: {first.get('Message', '')}"
                    )
                pending = [int(f["Id"]) for f in failed]
                if not pending:
                    break
            else:
                raise RuntimeError(f"SQS could not take {len(pending)} messages of a batch after retries")
        return ids

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        received: list[ReceivedMessage] = []
        while len(received) < max_messages:
            batch = self._receive(self.queue_url, min(SQS_MAX_BATCH, max_messages - len(received)))
            if not batch:
                break
            for raw in batch:
                attributes = raw.get("Attributes", {})
                received.append(
                    self._remember(
                        ReceivedMessage(
                            message_id=raw["MessageId"],
                            receipt=raw["ReceiptHandle"],
                            body=raw["Body"],
                            group=attributes.get("MessageGroupId", ""),
                            receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
                        )
                    )
                )
        return received

    def from_lambda_record(self, record: Mapping[str, Any]) -> ReceivedMessage:
        """An SQS record of a Lambda event, as the port's ReceivedMessage (remembered for dead_letter)."""
        attributes: Mapping[str, str] = record.get("attributes", {})
        return self._remember(
            ReceivedMessage(
                message_id=record["messageId"],
                receipt=record["receiptHandle"],
                body=record["body"],
                group=attributes.get("MessageGroupId", ""),
                receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
            )
        )

    def ack(self, receipt: str) -> None:
        self._handed_out.pop(receipt, None)
        self._delete(self.queue_url, receipt)

    def dead_letter(self, receipt: str, reason: str) -> None:
        message = self._handed_out.pop(receipt, None)
        if message is None:
            raise ValueError("dead_letter needs a message this queue handed out (receive/from_lambda_record)")
        self.client.send_message(
            QueueUrl=self.dlq_url,
            MessageBody=message.body,
            **_group(message.group),
            MessageAttributes={
                "reason": {"DataType": "String", "StringValue": reason[:_REASON_MAX] or "-"},
                "group": {"DataType": "String", "StringValue": message.group or "-"},
                "receive_count": {"DataType": "Number", "StringValue": str(message.receive_count)},
                "source_message_id": {"DataType": "String", "StringValue": message.message_id},
            },
        )
        self._delete(self.queue_url, receipt)

    # --- the dead letters ----------------------------------------------------------------------

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        listed: list[tuple[int, DeadLetter]] = []
        hidden: list[str] = []
        try:
            while len(listed) < limit:
                batch = self._receive(self.dlq_url, SQS_MAX_BATCH, self.peek_visibility_s)
                if not batch:
                    break
                for raw in batch:
                    hidden.append(raw["ReceiptHandle"])
                    listed.append((int(raw.get("Attributes", {}).get("SentTimestamp", "0")), _dead(raw)))
        finally:
            self._show_again(hidden)
        listed.sort(key=lambda pair: pair[0])
        return [letter for _, letter in listed[:limit]]

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        wanted = None if message_ids is None else set(message_ids)
        if wanted is not None and not wanted:
            return 0
        moved = 0
        hidden: list[str] = []
        try:
            while batch := self._receive(self.dlq_url, SQS_MAX_BATCH, self.peek_visibility_s):
                for raw in batch:
                    if wanted is not None and raw["MessageId"] not in wanted:
                        hidden.append(raw["ReceiptHandle"])
                        continue
                    letter = _dead(raw)
                    self.client.send_message(
                        QueueUrl=self.queue_url, MessageBody=letter.body, **_group(letter.group)
                    )
                    self._delete(self.dlq_url, raw["ReceiptHandle"])
                    moved += 1
        finally:
            self._show_again(hidden)
        return moved

    # --- figures -------------------------------------------------------------------------------

    def stats(self) -> QueueStats:
        main = self._attributes(self.queue_url)
        dead = self._attributes(self.dlq_url)
        return QueueStats(
            visible=main.get("ApproximateNumberOfMessages", 0),
            in_flight=main.get("ApproximateNumberOfMessagesNotVisible", 0),
            delayed=main.get("ApproximateNumberOfMessagesDelayed", 0),
            dead=dead.get("ApproximateNumberOfMessages", 0)
            + dead.get("ApproximateNumberOfMessagesNotVisible", 0),
            oldest_age_s=self._oldest_age(),
        )

    def _attributes(self, url: str) -> dict[str, int]:
        response = self.client.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
        return {name: int(value) for name, value in response.get("Attributes", {}).items()}

    def _oldest_age(self) -> float:
        if self._metrics_client is None:
            return 0.0
        metrics_client = self._metrics_client()
        now = self.clock.now()
        response = metrics_client.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "oldest",
                    "MetricStat": {
                        "Metric": {
                            "Namespace": "AWS/SQS",
                            "MetricName": "ApproximateAgeOfOldestMessage",
                            "Dimensions": [{"Name": "QueueName", "Value": queue_name(self.queue_url)}],
                        },
                        "Period": 60,
                        "Stat": "Maximum",
                    },
                }
            ],
            StartTime=now - timedelta(minutes=10),
            EndTime=now + timedelta(minutes=1),
            ScanBy="TimestampDescending",
        )
        for result in response.get("MetricDataResults", []):
            values = result.get("Values", [])
            if values:
                return float(values[0])
        return 0.0

    # --- helpers -------------------------------------------------------------------------------

    def _remember(self, message: ReceivedMessage) -> ReceivedMessage:
        self._handed_out[message.receipt] = message
        while len(self._handed_out) > _REMEMBERED:
            self._handed_out.popitem(last=False)
        return message

    def _receive(self, url: str, count: int, visibility: int | None = None) -> list[MessageTypeDef]:
        kwargs: dict[str, Any] = {
            "QueueUrl": url,
            "MaxNumberOfMessages": count,
            "WaitTimeSeconds": self.wait_seconds,
            "MessageSystemAttributeNames": _SYSTEM_ATTRIBUTES,
            "MessageAttributeNames": ["All"],
        }
        if visibility is not None:
            kwargs["VisibilityTimeout"] = visibility
        return list(self.client.receive_message(**kwargs).get("Messages", []))

    def _delete(self, url: str, receipt: str) -> None:
        try:
            self.client.delete_message(QueueUrl=url, ReceiptHandle=receipt)
        except ClientError as exc:
            if not str(exc.response.get("Error", {}).get("Code", "")).endswith("ReceiptHandleIsInvalid"):
                raise

    def _show_again(self, receipts: list[str]) -> None:
        for start in range(0, len(receipts), SQS_MAX_BATCH):
            chunk = receipts[start : start + SQS_MAX_BATCH]
            self.client.change_message_visibility_batch(
                QueueUrl=self.dlq_url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": receipt, "VisibilityTimeout": 0}
                    for n, receipt in enumerate(chunk)
                ],
            )


def _dead(raw: MessageTypeDef) -> DeadLetter:
    attributes = raw.get("Attributes", {})
    receives = int(attributes.get("ApproximateReceiveCount", "1")) - 1  # minus this listing's receive
    recorded = _attribute(raw, "receive_count")
    group = _attribute(raw, "group") or attributes.get("MessageGroupId", "")
    return DeadLetter(
        message_id=raw["MessageId"],
        body=raw["Body"],
        group="" if group == "-" else group,
        reason=_attribute(raw, "reason")
        or f"received {receives} times without being acknowledged (queue redrive policy)",
        receive_count=int(recorded) if recorded else receives,
    )
