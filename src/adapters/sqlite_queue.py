"""JobQueue on SQLite: delays, visibility timeouts, receive counts, dead letters and redrive, like SQS."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

from adapters.sqlite_store import Shared
from outreach_core.ports import Clock, DeadLetter, QueueMessage, QueueStats, ReceivedMessage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queue_messages (
    id            TEXT    PRIMARY KEY,
    queue         TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    grp           TEXT    NOT NULL,
    sent_at       REAL    NOT NULL,
    visible_at    REAL    NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    receipt       TEXT,
    dead          INTEGER NOT NULL DEFAULT 0,
    reason        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queue_visible ON queue_messages (queue, dead, visible_at);
CREATE INDEX IF NOT EXISTS queue_receipt ON queue_messages (receipt);
"""


class SqliteJobQueue:
    def __init__(
        self,
        path: str | Path,
        name: str,
        clock: Clock,
        *,
        visibility_timeout: int = 120,
        max_receives: int = 3,
        max_delay_seconds: int = 900,
    ) -> None:
        self.name = name
        self.clock = clock
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.max_delay_seconds = max_delay_seconds
        self._shared = Shared.acquire(path)
        self._conn, self._lock = self._shared.conn, self._shared.lock
        self._closed = False
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._shared.release()

    def _now(self) -> float:
        return self.clock.now().timestamp()

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        if not 0 <= delay_seconds <= self.max_delay_seconds:
            raise ValueError(f"delay must be within 0..{self.max_delay_seconds} s, got {delay_seconds}")
        message_id = uuid.uuid4().hex
        now = self._now()
        with self._shared.writing():
            self._conn.execute(
                "INSERT INTO queue_messages (id, queue, body, grp, sent_at, visible_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (message_id, self.name, message.body, message.group, now, now + delay_seconds),
            )
        return message_id

    def send_many(self, messages: Sequence[tuple[QueueMessage, int]]) -> list[str]:
        for _, delay_seconds in messages:
            if not 0 <= delay_seconds <= self.max_delay_seconds:
                raise ValueError(f"delay must be within 0..{self.max_delay_seconds} s, got {delay_seconds}")
        now = self._now()
        rows = [
            (uuid.uuid4().hex, self.name, message.body, message.group, now, now + delay)
            for message, delay in messages
        ]
        with self._shared.writing():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany(
                    "INSERT INTO queue_messages (id, queue, body, grp, sent_at, visible_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return [row[0] for row in rows]

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        now = self._now()
        received: list[ReceivedMessage] = []
        with self._lock:
            visible = self._conn.execute(
                "SELECT 1 FROM queue_messages WHERE queue=? AND dead=0 AND visible_at<=? LIMIT 1",
                (self.name, now),
            ).fetchone()
            if visible is None:  # the common answer of an idle poll: no write transaction for it
                return received
        with self._shared.writing():
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                rows = self._conn.execute(
                    "SELECT id, body, grp, receive_count FROM queue_messages "
                    "WHERE queue=? AND dead=0 AND visible_at<=? ORDER BY visible_at, sent_at LIMIT ?",
                    (self.name, now, max_messages * 4),
                ).fetchall()
                for message_id, body, group, count in _interleave_groups(rows)[:max_messages]:
                    if count >= self.max_receives:
                        self._conn.execute(
                            "UPDATE queue_messages SET dead=1, receipt=NULL, reason=? WHERE id=?",
                            (f"received {count} times without being acknowledged", message_id),
                        )
                        continue
                    receipt = uuid.uuid4().hex
                    self._conn.execute(
                        "UPDATE queue_messages SET receipt=?, receive_count=receive_count+1, visible_at=? "
                        "WHERE id=?",
                        (receipt, now + self.visibility_timeout, message_id),
                    )
                    received.append(
                        ReceivedMessage(
                            message_id=message_id,
                            receipt=receipt,
                            body=body,
                            group=group,
                            receive_count=count + 1,
                        )
                    )
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
        return received

    def ack(self, receipt: str) -> None:
        with self._shared.writing():
            self._conn.execute("DELETE FROM queue_messages WHERE receipt=? AND dead=0", (receipt,))

    def dead_letter(self, receipt: str, reason: str) -> None:
        with self._shared.writing():
            self._conn.execute(
                "UPDATE queue_messages SET dead=1, receipt=NULL, reason=? WHERE receipt=? AND dead=0",
                (reason, receipt),
            )

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, body, grp, reason, receive_count FROM queue_messages WHERE queue=? AND dead=1 "
                "ORDER BY sent_at LIMIT ?",
                (self.name, limit),
            ).fetchall()
        return [
            DeadLetter(message_id=r[0], body=r[1], group=r[2], reason=r[3], receive_count=r[4]) for r in rows
        ]

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        sql = (
            "UPDATE queue_messages SET dead=0, receive_count=0, receipt=NULL, reason='', visible_at=? "
            "WHERE queue=? AND dead=1"
        )
        args: list[object] = [self._now(), self.name]
        if message_ids is not None:
            if not message_ids:
                return 0
            sql += f" AND id IN ({','.join('?' * len(message_ids))})"
            args += list(message_ids)
        with self._shared.writing():
            return self._conn.execute(sql, args).rowcount

    def stats(self) -> QueueStats:
        now = self._now()
        with self._lock:
            visible, in_flight, delayed, dead, oldest = self._conn.execute(
                "SELECT SUM(dead=0 AND visible_at<=?), "
                "SUM(dead=0 AND receipt IS NOT NULL AND visible_at>?), "
                "SUM(dead=0 AND receipt IS NULL AND visible_at>?), SUM(dead=1), "
                "MIN(CASE WHEN dead=0 AND visible_at<=? THEN sent_at END) FROM queue_messages WHERE queue=?",
                (now, now, now, now, self.name),
            ).fetchone()
        return QueueStats(
            visible=visible or 0,
            in_flight=in_flight or 0,
            delayed=delayed or 0,
            dead=dead or 0,
            oldest_age_s=round(now - oldest, 1) if oldest else 0.0,
        )

    def visible(self) -> tuple[int, float | None]:
        """How many messages are visible now, and since when the oldest of them is (epoch seconds)."""
        with self._lock:
            count, oldest = self._conn.execute(
                "SELECT COUNT(*), MIN(visible_at) FROM queue_messages "
                "WHERE queue=? AND dead=0 AND visible_at<=?",
                (self.name, self._now()),
            ).fetchone()
        return count, oldest

    def next_visible_at(self) -> float | None:
        """When the next message becomes visible (epoch seconds): lets a virtual clock jump there."""
        with self._lock:
            row = self._conn.execute(
                "SELECT MIN(visible_at) FROM queue_messages WHERE queue=? AND dead=0", (self.name,)
            ).fetchone()
        return row[0] if row and row[0] is not None else None


def _interleave_groups(rows: list[tuple[str, str, str, int]]) -> list[tuple[str, str, str, int]]:
    """Round-robin across groups (tenants), oldest first within each: one tenant's backlog cannot
    starve another's messages in a batch (what SQS fair queues do for MessageGroupId)."""
    by_group: dict[str, list[tuple[str, str, str, int]]] = {}
    for row in rows:
        by_group.setdefault(row[2], []).append(row)
    out: list[tuple[str, str, str, int]] = []
    while by_group:
        for group in list(by_group):
            out.append(by_group[group].pop(0))
            if not by_group[group]:
                del by_group[group]
    return out
