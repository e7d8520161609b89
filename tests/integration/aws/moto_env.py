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
from datetime import UTC, datetime
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

    def __init__(self, *, frozen: bool = False) -> None:
        self.offset_s = 0.0
        self._millis = moto_sqs.unix_time_millis
        self._seconds = moto_sqs.unix_time
        # frozen: stopped at the start and moved only by `advance`, so a delay expires in virtual time,
        # never while a slow test runs (the e2e stack, whose functions run on a virtual clock too).
        base_ms = self._millis() if frozen else None
        base_s = self._seconds() if frozen else None
        moto_sqs.unix_time_millis = lambda dt=None: (  # type: ignore[assignment]
            (self._millis(dt) if dt is not None or base_ms is None else base_ms) + self.offset_s * 1000
        )
        moto_sqs.unix_time = lambda dt=None: (  # type: ignore[assignment]
            (self._seconds(dt) if dt is not None or base_s is None else base_s) + self.offset_s
        )

    def advance(self, seconds: float) -> None:
        self.offset_s += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(moto_sqs.unix_time(), UTC)

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


@contextmanager
def faster_moto_dynamodb() -> Iterator[None]:
    """Two of moto's DynamoDB costs grow with the whole table, which a campaign-sized end-to-end run
    cannot afford (minutes). Both shortcuts keep moto's answers the same:

    - TransactWriteItems deep-copies the whole table per item as its rollback snapshot; here the
      snapshot copies the key structure and deep-copies only the items the transaction names (the
      others are not written by it, so sharing them is safe).
    - Query sorts and compares every item of the table; here a base-table query sees only the
      partition it asks for (a query never returns items of another partition anyway).

    Used by the end-to-end test only; the contract suites run on moto unchanged."""
    import copy as real_copy
    import inspect
    from collections import defaultdict
    from types import SimpleNamespace

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    touched: set[tuple[str, str]] = set()

    def snapshot(table: Table) -> Table:
        clone = real_copy.copy(table)
        clone.items = defaultdict(dict)  # type: ignore[assignment]
        for hash_key, rows in table.items.items():
            copied = dict(rows)
            for range_key, item in rows.items():
                if (hash_key.value, range_key.value) in touched:
                    copied[range_key] = real_copy.deepcopy(item)
            clone.items[hash_key] = copied
        return clone

    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return snapshot(obj) if isinstance(obj, Table) else real_copy.deepcopy(obj, memo)

    real_transact = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        touched.clear()
        for entry in transact_items:
            op = next(iter(entry.values()))
            key = op.get("Key") or op.get("Item") or {}
            touched.add((key.get("pk", {}).get("S", ""), key.get("sk", {}).get("S", "")))
        real_transact(self, transact_items)

    real_query = Table.query
    signature = inspect.signature(real_query)

    def query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if index_name or hash_key is None or not self.range_key_attr:
            return real_query(self, hash_key, *args, **kwargs)
        everything = self.items
        self.items = {hash_key: everything[hash_key]} if hash_key in everything else {}  # type: ignore[assignment]
        try:
            return real_query(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    models.copy = SimpleNamespace(deepcopy=deepcopy, copy=real_copy.copy)  # type: ignore[assignment]
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.copy = real_copy  # type: ignore[assignment]
        models.DynamoDBBackend.transact_write_items = real_transact  # type: ignore[method-assign]
        Table.query = real_query  # type: ignore[method-assign]
