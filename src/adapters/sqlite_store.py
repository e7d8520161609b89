"""StateStore on SQLite: one file, WAL, conditional writes in IMMEDIATE transactions."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from outreach_core.ports import ConditionFailed, Delete, JsonDocument, Put, StoredItem

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    partition  TEXT    NOT NULL,
    sort       TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    index_key  TEXT,
    expires_at INTEGER,
    PRIMARY KEY (partition, sort)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_by_index_key ON items (index_key) WHERE index_key IS NOT NULL;
"""
_TOP = "\U0010ffff"
_COLUMNS = "partition, sort, version, data, index_key, expires_at"
_KEYS_PER_SELECT = 400  # (partition, sort) pairs per statement: well under SQLite's variable limit


def connect(path: str | Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    # A checkpoint (WAL pages copied into the database, two fsyncs) every 10,000 pages (40 MB), not
    # SQLite's 1,000: writes at random keys (hashed lead ids) dirty a page per item, and a longer WAL
    # holds several versions of a page that one checkpoint then writes once.
    conn.execute("PRAGMA wal_autocheckpoint=10000")
    return conn


class Shared:
    """One connection to a database file for every adapter of a process that uses it (the store and
    the queues share the workspace's file), with one lock for all of them. Separate connections
    each lose their page cache whenever another one writes: with one, the store's pages stay warm
    between the queues' writes. Reference-counted: the last adapter to close closes it. Keyed by
    process too: a child process never uses a connection it inherited."""

    _open: dict[tuple[int, str], Shared] = {}
    _guard = threading.Lock()

    def __init__(self, conn: sqlite3.Connection, path: str | None = None) -> None:
        self.conn = conn
        self.lock = threading.RLock()
        self.users = 0
        self.exclusive = False
        # The processes writing one file queue on a lock file beside it (see `writing`).
        self._writer_fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600) if path else None

    @contextmanager
    def writing(self) -> Iterator[sqlite3.Connection]:
        """The connection, for a write, with this process's lock and the file's writer lock held.

        Several processes writing one file: SQLite's own busy handler retries a locked database by
        sleeping 1, 2, 5, 10, 20... ms, so a writer that finds the lock taken waits far longer than the
        transaction holding it (a fraction of a millisecond), and four workers spend most of their
        time asleep. An flock on a file beside it queues them in the kernel instead: a waiter wakes as
        soon as the holder releases it. SQLite's locks stay authoritative (a writer that does not take
        the flock is still serialised, by the busy timeout); this only shortens the waits."""
        with self.lock:
            fd = None if self.exclusive else self._writer_fd
            if fd is None:
                yield self.conn
                return
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield self.conn
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    @classmethod
    def acquire(cls, path: str | Path, *, exclusive: bool = False) -> Shared:
        """`exclusive`: this process owns the file while the connection is open (SQLite's EXCLUSIVE
        locking mode: its lock is taken once, not per transaction; other processes cannot open it)."""
        key = (os.getpid(), os.path.realpath(path))
        with cls._guard:
            shared = cls._open.get(key)
            if shared is None:
                shared = cls._open[key] = cls(connect(path), key[1])
            if exclusive:
                with shared.lock:
                    shared.conn.execute("PRAGMA locking_mode=EXCLUSIVE")
                    shared.exclusive = True
            shared.users += 1
            return shared

    def release(self) -> None:
        with Shared._guard:
            self.users -= 1
            if self.users > 0:
                return
            for key, shared in list(Shared._open.items()):
                if shared is self:
                    del Shared._open[key]
        with self.lock:
            self.conn.close()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None


class SqliteStateStore:
    def __init__(self, path: str | Path, *, exclusive: bool = False) -> None:
        self._shared = Shared.acquire(path, exclusive=exclusive)
        self._conn, self._lock = self._shared.conn, self._shared.lock
        self._closed = False
        with self._lock:
            # 16 MB of page cache, not SQLite's 2 MB: a batch reads and then writes a page per item at
            # random places of the table (hashed lead ids); the pages it read must still be there.
            self._conn.execute("PRAGMA cache_size=-16384")
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._shared.release()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._shared.writing() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @staticmethod
    def _item(row: tuple[str, str, int, str, str | None, int | None]) -> StoredItem:
        return StoredItem(
            partition=row[0],
            sort=row[1],
            version=row[2],
            data=JsonDocument(row[3]),
            index_key=row[4],
            expires_at=row[5],
            etag=row[3],
        )

    def get(self, partition: str, sort: str) -> StoredItem | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT partition, sort, version, data, index_key, expires_at FROM items "
                "WHERE partition=? AND sort=?",
                (partition, sort),
            ).fetchone()
        return self._item(row) if row else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredItem]:
        found: dict[tuple[str, str], StoredItem] = {}
        with self._lock:
            for partition, sorts in _by_partition(keys):
                marks = ",".join("?" * len(sorts))
                rows = self._conn.execute(  # partition = ? AND sort IN (...): the primary key's index
                    f"SELECT {_COLUMNS} FROM items WHERE partition=? AND sort IN ({marks})",
                    [partition, *sorts],
                ).fetchall()
                for row in rows:
                    found[(row[0], row[1])] = self._item(row)
        return found

    def query(
        self,
        partition: str,
        prefix: str,
        *,
        upto: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredItem]:
        high = min(upto, prefix + _TOP) if upto is not None else prefix + _TOP
        sql = (
            "SELECT partition, sort, version, data, index_key, expires_at FROM items "
            "WHERE partition=? AND sort>=? AND sort<=?"
        )
        args: tuple[object, ...] = (partition, prefix, high)
        if after is not None:
            sql += " AND sort>?"
            args += (after,)
        sql += " ORDER BY sort"
        if limit is not None:
            sql += " LIMIT ?"
            args += (limit,)
        with self._lock:
            rows = self._conn.execute(sql, args).fetchall()
        return [self._item(r) for r in rows]

    def find(self, index_key: str) -> list[StoredItem]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT partition, sort, version, data, index_key, expires_at FROM items WHERE index_key=?",
                (index_key,),
            ).fetchall()
        return [self._item(r) for r in rows]

    def write(self, *operations: Put | Delete) -> None:
        _distinct(operations)
        with self._transaction() as conn:
            self._apply(conn, operations)

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        """Each group's conditions are decided against the versions read at the start of the one
        IMMEDIATE transaction (no other writer can move them) and the groups before it, in order, as
        one write per group would; then the surviving writes are a few statements for the whole batch
        (one `executemany` for the items left, one for those deleted), not one per operation."""
        for group in groups:
            _distinct(group)
        if not groups:
            return []
        results: list[ConditionFailed | None] = []
        with self._transaction() as conn:
            versions = self._versions(conn, [(op.partition, op.sort) for group in groups for op in group])
            final: dict[tuple[str, str], Put | None] = {}  # None: deleted; a put's version: versions
            for group in groups:
                lost = next(
                    (op for op in group if not _holds(op, versions.get((op.partition, op.sort)))), None
                )
                if lost is not None:
                    results.append(ConditionFailed(lost.partition, lost.sort))
                    continue
                for op in group:
                    key = (op.partition, op.sort)
                    if isinstance(op, Delete):
                        versions.pop(key, None)
                        final[key] = None
                    else:
                        versions[key] = versions.get(key, 0) + 1
                        final[key] = op
                results.append(None)
            deleted = [key for key, write in final.items() if write is None]
            if deleted:
                conn.executemany("DELETE FROM items WHERE partition=? AND sort=?", deleted)
            rows = [
                (put.partition, put.sort, versions[key], _json(put.data), put.index_key, put.expires_at)
                for key, put in final.items()
                if put is not None
            ]
            if rows:
                conn.executemany(
                    f"INSERT INTO items ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (partition, sort) "
                    "DO UPDATE SET version = excluded.version, data = excluded.data, "
                    "index_key = excluded.index_key, expires_at = excluded.expires_at",
                    rows,
                )
        return results

    @staticmethod
    def _versions(conn: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored version of each of these items that exists."""
        found: dict[tuple[str, str], int] = {}
        for partition, sorts in _by_partition(keys):
            marks = ",".join("?" * len(sorts))
            for sort, version in conn.execute(
                f"SELECT sort, version FROM items WHERE partition=? AND sort IN ({marks})",
                [partition, *sorts],
            ):
                found[(partition, sort)] = version
        return found

    @staticmethod
    def _apply(conn: sqlite3.Connection, operations: Sequence[Put | Delete]) -> None:
        """One statement per operation; a conditional one that changes no row lost its condition."""
        for op in operations:
            key = (op.partition, op.sort)
            if isinstance(op, Delete):
                if op.expected_version is None:
                    conn.execute("DELETE FROM items WHERE partition=? AND sort=?", key)
                elif op.expected_version == 0:  # "must not exist": nothing to delete either way
                    if conn.execute("SELECT 1 FROM items WHERE partition=? AND sort=?", key).fetchone():
                        raise ConditionFailed(*key)
                elif not conn.execute(
                    "DELETE FROM items WHERE partition=? AND sort=? AND version=?",
                    (*key, op.expected_version),
                ).rowcount:
                    raise ConditionFailed(*key)
                continue
            data = _json(op.data)
            if op.expected_version is None:
                conn.execute(
                    "INSERT INTO items (partition, sort, version, data, index_key, expires_at) "
                    "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (partition, sort) DO UPDATE SET "
                    "version = version + 1, data = excluded.data, index_key = excluded.index_key, "
                    "expires_at = excluded.expires_at",
                    (*key, data, op.index_key, op.expires_at),
                )
            elif op.expected_version == 0:
                if not conn.execute(
                    "INSERT INTO items (partition, sort, version, data, index_key, expires_at) "
                    "VALUES (?, ?, 1, ?, ?, ?) ON CONFLICT (partition, sort) DO NOTHING",
                    (*key, data, op.index_key, op.expires_at),
                ).rowcount:
                    raise ConditionFailed(*key)
            elif not conn.execute(
                "UPDATE items SET version = version + 1, data = ?, index_key = ?, expires_at = ? "
                "WHERE partition=? AND sort=? AND version=?",
                (data, op.index_key, op.expires_at, *key, op.expected_version),
            ).rowcount:
                raise ConditionFailed(*key)

    def purge_expired(self, now_epoch: int) -> int:
        """Delete items past their expiry (DynamoDB's TTL does this by itself)."""
        with self._transaction() as conn:
            return conn.execute(
                "DELETE FROM items WHERE expires_at IS NOT NULL AND expires_at < ?", (now_epoch,)
            ).rowcount


def _by_partition(keys: Sequence[tuple[str, str]]) -> Iterator[tuple[str, list[str]]]:
    """The distinct keys as (partition, sort keys), at most _KEYS_PER_SELECT sort keys at a time."""
    by_partition: dict[str, list[str]] = {}
    for partition, sort in dict.fromkeys(keys):
        by_partition.setdefault(partition, []).append(sort)
    for partition, sorts in by_partition.items():
        for start in range(0, len(sorts), _KEYS_PER_SELECT):
            yield partition, sorts[start : start + _KEYS_PER_SELECT]


def _holds(op: Put | Delete, version: int | None) -> bool:
    """Does the operation's condition hold on an item at `version` (None: absent)?"""
    if op.expected_version is None:
        return True
    return version is None if op.expected_version == 0 else version == op.expected_version


_ENCODE = json.JSONEncoder(separators=(",", ":")).encode  # one encoder, not one per document


def _json(data: Mapping[str, Any]) -> str:
    if isinstance(data, JsonDocument):
        return data.text  # written as its text: not parsed, not encoded again
    return _ENCODE(data if type(data) is dict else dict(data))


def _distinct(operations: Sequence[Put | Delete]) -> None:
    if len(operations) < 2:
        return
    keys = [(op.partition, op.sort) for op in operations]
    if len(set(keys)) != len(keys):
        raise ValueError("one write may touch each item once")
