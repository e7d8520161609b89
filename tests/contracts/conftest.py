"""Contract fixtures: every implementation of a port registers a factory here, and the same suite
runs against each. Adding an adapter = adding a factory (see STORE_FACTORIES and QUEUE_FACTORIES)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.filesystem_archive import FilesystemArchive
from adapters.sqlite_queue import SqliteJobQueue
from adapters.sqlite_store import SqliteStateStore
from tests.fakes import FakeQueue, InMemoryArchive, InMemoryStateStore, ManualClock

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


def _memory_archive(_: Path) -> Iterator[Any]:
    yield InMemoryArchive()


def _fs_archive(tmp: Path) -> Iterator[Any]:
    yield FilesystemArchive(tmp / "archive")


STORE_FACTORIES: dict[str, Callable[[Path], Iterator[Any]]] = {
    "memory": _memory_store,
    "sqlite": _sqlite_store,
}
QUEUE_FACTORIES: dict[str, Callable[[Path, ManualClock], Iterator[Any]]] = {
    "fake": _fake_queue,
    "sqlite": _sqlite_queue,
}
ARCHIVE_FACTORIES: dict[str, Callable[[Path], Iterator[Any]]] = {
    "memory": _memory_archive,
    "filesystem": _fs_archive,
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
