"""moto plumbing shared by the AWS contract, integration and end-to-end tests.

- `fake_aws_env()`: fake credentials and region for the duration (never the developer's own).
- `MotoTime`: moves moto's SQS clock forward (delays, visibility timeouts) without sleeping.
- resource builders matching what Terraform creates (table + GSI + TTL, queue + DLQ, bucket).
- `publish_oldest_age`: CloudWatch's ApproximateAgeOfOldestMessage, which AWS publishes by itself every
  minute and moto does not, computed from moto's queue and put where the adapter reads it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import moto.sqs.models as moto_sqs
from moto.backends import get_backend
from moto.core import DEFAULT_ACCOUNT_ID

from adapters.aws.dynamodb_store import INDEX_NAME
from adapters.aws.sqs_queue import queue_name

REGION = "eu-west-1"
FAILOVER_REGION = "eu-central-1"
FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}


@contextmanager
def fake_aws_env() -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in FAKE_ENV}
    os.environ.update(FAKE_ENV)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class MotoTime:
    """An offset on moto's SQS clock. `advance(s)` makes delayed and in-flight messages due as if s
    seconds had passed; `close()` restores moto's own clock."""

    def __init__(self) -> None:
        self.offset_s = 0.0
        self._millis = moto_sqs.unix_time_millis
        self._seconds = moto_sqs.unix_time
        moto_sqs.unix_time_millis = lambda dt=None: self._millis(dt) + self.offset_s * 1000  # type: ignore[assignment]
        moto_sqs.unix_time = lambda dt=None: self._seconds(dt) + self.offset_s  # type: ignore[assignment]

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.offset_s)

    def close(self) -> None:
        moto_sqs.unix_time_millis = self._millis  # type: ignore[assignment]
        moto_sqs.unix_time = self._seconds  # type: ignore[assignment]


def create_table(client: Any, table_name: str) -> None:
    """The table as Terraform declares it."""
    client.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "ik", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": INDEX_NAME,
                "KeySchema": [{"AttributeName": "ik", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    client.update_time_to_live(
        TableName=table_name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"}
    )


def create_queues(
    client: Any, name: str = "outreach-jobs", *, visibility_timeout: int = 30, max_receives: int = 3
) -> tuple[str, str]:
    """(queue url, DLQ url): a standard queue whose redrive policy moves a message to the DLQ after
    `max_receives` receives."""
    dlq_url = client.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = client.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receives}),
        },
    )["QueueUrl"]
    return url, dlq_url


def create_bucket(client: Any, bucket: str) -> None:
    client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})


def publish_oldest_age(cloudwatch: Any, queue_url: str, at: datetime, region: str = REGION) -> None:
    """What SQS publishes to CloudWatch each minute: the age of the oldest visible message."""
    queue = get_backend("sqs")[DEFAULT_ACCOUNT_ID][region].queues[queue_name(queue_url)]
    now_ms = at.timestamp() * 1000
    ages = [(now_ms - m.sent_timestamp) / 1000 for m in queue.messages]
    cloudwatch.put_metric_data(
        Namespace="AWS/SQS",
        MetricData=[
            {
                "MetricName": "ApproximateAgeOfOldestMessage",
                "Dimensions": [{"Name": "QueueName", "Value": queue_name(queue_url)}],
                "Timestamp": at,
                "Value": max(ages, default=0.0),
                "Unit": "Seconds",
            }
        ],
    )


_SESSION: list[boto3.session.Session] = []


def client(service: str, region: str = REGION, endpoint_url: str | None = None, config: Any = None) -> Any:
    """A client with the fake credentials; one shared session, so service models load once per run."""
    if not _SESSION:
        _SESSION.append(
            boto3.session.Session(
                aws_access_key_id=FAKE_ENV["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=FAKE_ENV["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=FAKE_ENV["AWS_SESSION_TOKEN"],
                region_name=REGION,
            )
        )
    return _SESSION[0].client(service, region_name=region, endpoint_url=endpoint_url, config=config)


def ses_sent(region: str = REGION) -> list[Any]:
    """Messages moto's SES accepted in `region` (SESv2 sends land in the SESv1 backend)."""
    return list(get_backend("ses")[DEFAULT_ACCOUNT_ID][region].sent_messages)
