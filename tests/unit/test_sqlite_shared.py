"""The SQLite adapters of one process share a connection per file; the demo's is exclusive."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from adapters.sqlite_queue import SqliteJobQueue
from adapters.sqlite_store import SqliteStateStore
from outreach_core.ports import Put, QueueMessage
from tests.fakes import ManualClock


def test_the_store_and_the_queues_share_one_connection_until_the_last_closes(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "w.db")
    queue = SqliteJobQueue(tmp_path / "w.db", "jobs", ManualClock())
    assert store._conn is queue._conn and store._lock is queue._lock
    store.close()
    queue.send(QueueMessage(body="{}", group="t"))  # still open for the queue
    assert len(queue.receive(1)) == 1
    queue.close()
    with pytest.raises(sqlite3.ProgrammingError):  # the last one closed it
        queue._conn.execute("SELECT 1")
    again = SqliteStateStore(tmp_path / "w.db")  # and a new adapter opens a new one
    assert again._conn is not store._conn
    again.close()


def test_an_exclusive_store_keeps_other_processes_out_while_it_is_open(tmp_path: Path) -> None:
    store = SqliteStateStore(tmp_path / "w.db", exclusive=True)
    store.write(Put(partition="T#a", sort="DOC", data={"n": 1}))
    other = sqlite3.connect(str(tmp_path / "w.db"), timeout=0.1)
    with pytest.raises(sqlite3.OperationalError, match="locked"):
        other.execute("SELECT count(*) FROM items").fetchone()
    store.close()
    assert other.execute("SELECT count(*) FROM items").fetchone() == (1,)
    other.close()
