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


def test_writers_of_one_file_queue_on_its_writer_lock_and_then_write(tmp_path: Path) -> None:
    """Another process's writer holds the lock file beside the database: a write waits for it (not
    for SQLite's sleeping busy handler), then goes through once it is released."""
    import fcntl
    import os
    import threading

    store = SqliteStateStore(tmp_path / "w.db")
    store.write(Put(partition="T#a", sort="SEEN", data={"n": 1}))
    other = os.open(f"{os.path.realpath(tmp_path / 'w.db')}-writer", os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    writer = threading.Thread(target=store.write, args=(Put(partition="T#a", sort="DOC", data={"n": 2}),))
    writer.start()
    writer.join(0.3)
    try:
        assert writer.is_alive(), "the write did not wait for the writer lock"
        reader = sqlite3.connect(str(tmp_path / "w.db"))  # another process's view: nothing written yet
        assert reader.execute("SELECT count(*) FROM items WHERE sort='DOC'").fetchone() == (0,)
        reader.close()
    finally:
        fcntl.flock(other, fcntl.LOCK_UN)
        os.close(other)
    writer.join(10)
    assert not writer.is_alive()
    item = store.get("T#a", "DOC")
    assert item is not None and item.data == {"n": 2}
    store.close()
