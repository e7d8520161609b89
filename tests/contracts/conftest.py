"""Contract fixtures: every implementation of a port registers a factory here, and the same suite
runs against each. Adding an adapter = adding a factory (see STORE_FACTORIES and QUEUE_FACTORIES)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from adapters.aws.dynamodb_store import DynamoDbStateStore
from adapters.aws.s3_archive import S3Archive
from adapters.aws.sqs_queue import SqsJobQueue
from adapters.filesystem_archive import FilesystemArchive
from adapters.sqlite_queue import SqliteJobQueue
from adapters.sqlite_store import SqliteStateStore
from tests.fakes import FakeQueue, InMemoryArchive, InMemoryStateStore, ManualClock
from tests.integration.aws import moto_env

StoreFactory = Callable[[Path], Iterator[Any]]


def _memory_store(_: Path) -> Iterator[Any]:
    yield InMemoryStateStore()


def _sqlite_store(tmp: Path) -> Iterator[Any]:
    store = SqliteStateStore(tmp / "state.db")
    yield store
    store.close()


def _fake_queue(_: Path, clock: ManualClock) -> Iterator[Any]:
    yield FakeQueue(clock, visibility_timeout=30, max_receives=3)


def _sqlite_queue(tmp: Path, clock: ManualClock) -> Iterator[Any]:
    queue = SqliteJobQueue(tmp / "queue.db", "jobs", clock, visibility_timeout=30, max_receives=3)
    yield queue
    queue.close()


def _dynamodb_store(_: Path) -> Iterator[Any]:
    with moto_env.fake_aws_env(), mock_aws():
        client = moto_env.client("dynamodb")
        moto_env.create_table(client, "outreach")
        yield DynamoDbStateStore(client, "outreach")


class _MotoSqsQueue(SqsJobQueue):
    """The SQS adapter on moto, whose clock the contract moves without sleeping."""

    moto_time: moto_env.MotoTime
    cloudwatch: Any

    def advance_for_tests(self, seconds: float) -> None:
        self.moto_time.advance(seconds)
        moto_env.publish_oldest_age(self.cloudwatch, self.queue_url, self.moto_time.now())


def _sqs_queue(_: Path, __: ManualClock) -> Iterator[Any]:
    with moto_env.fake_aws_env(), mock_aws():
        moto_time = moto_env.MotoTime()
        try:
            sqs, cloudwatch = moto_env.client("sqs"), moto_env.client("cloudwatch")
            url, dlq_url = moto_env.create_queues(sqs, visibility_timeout=30, max_receives=3)
            queue = _MotoSqsQueue(sqs, url, dlq_url, moto_time, metrics_client=lambda: cloudwatch)
            queue.moto_time, queue.cloudwatch = moto_time, cloudwatch
            yield queue
        finally:
            moto_time.close()


def _s3_archive(_: Path) -> Iterator[Any]:
    with moto_env.fake_aws_env(), mock_aws():
        client = moto_env.client("s3")
        moto_env.create_bucket(client, "outreach-archive")
        yield S3Archive(client, "outreach-archive")


def _memory_archive(_: Path) -> Iterator[Any]:
    yield InMemoryArchive()


def _fs_archive(tmp: Path) -> Iterator[Any]:
    yield FilesystemArchive(tmp / "archive")


STORE_FACTORIES: dict[str, Callable[[Path], Iterator[Any]]] = {
    "memory": _memory_store,
    "sqlite": _sqlite_store,
    "dynamodb": _dynamodb_store,
}
QUEUE_FACTORIES: dict[str, Callable[[Path, ManualClock], Iterator[Any]]] = {
    "fake": _fake_queue,
    "sqlite": _sqlite_queue,
    "sqs": _sqs_queue,
}
ARCHIVE_FACTORIES: dict[str, Callable[[Path], Iterator[Any]]] = {
    "memory": _memory_archive,
    "filesystem": _fs_archive,
    "s3": _s3_archive,
}


@pytest.fixture(params=sorted(STORE_FACTORIES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from STORE_FACTORIES[request.param](tmp_path)


@pytest.fixture(params=sorted(QUEUE_FACTORIES))
def queue_with_clock(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Any, Callable[[float], None]]]:
    """(queue, advance): `advance(seconds)` moves the queue's notion of time forward. Fakes and SQLite
    read a ManualClock; a factory for a real service may advance time its own way."""
    clock = ManualClock()
    for queue in QUEUE_FACTORIES[request.param](tmp_path, clock):
        advance = getattr(queue, "advance_for_tests", None) or clock.advance
        yield queue, advance


@pytest.fixture(params=sorted(ARCHIVE_FACTORIES))
def archive(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from ARCHIVE_FACTORIES[request.param](tmp_path)
