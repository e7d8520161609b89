"""Hand-written fakes for the ports. No mocks: each fake honours its port's contract, and the contract
suites in tests/contracts run the same checks against these fakes and the real adapters."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from outreach_core.domain.mail import MailError, OutboundEmail, SendReceipt
from outreach_core.ports import (
    ConditionFailed,
    DeadLetter,
    Delete,
    Put,
    QueueMessage,
    QueueStats,
    ReceivedMessage,
    StoredItem,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # a Monday, 09:00 UTC


class ManualClock:
    def __init__(self, now: datetime = T0) -> None:
        self._now = now

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | float) -> datetime:
        self._now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when


class InMemoryStateStore:
    def __init__(self) -> None:
        self.items: dict[tuple[str, str], StoredItem] = {}
        self._lock = threading.Lock()
        self.writes = 0

    def get(self, partition: str, sort: str) -> StoredItem | None:
        return self.items.get((partition, sort))

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredItem]:
        return {key: self.items[key] for key in keys if key in self.items}

    def query(
        self,
        partition: str,
        prefix: str,
        *,
        upto: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredItem]:
        keys = sorted(
            s
            for (p, s) in self.items
            if p == partition
            and s.startswith(prefix)
            and (upto is None or s <= upto)
            and (after is None or s > after)
        )
        return [self.items[(partition, s)] for s in keys[:limit]]

    def find(self, index_key: str) -> list[StoredItem]:
        return [item for item in self.items.values() if item.index_key == index_key]

    def write(self, *operations: Put | Delete) -> None:
        keys = [(op.partition, op.sort) for op in operations]
        if len(set(keys)) != len(keys):
            raise ValueError("one write may touch each item once")
        with self._lock:
            for op in operations:
                current = self.items.get((op.partition, op.sort))
                version = current.version if current else 0
                if op.expected_version is not None and op.expected_version != version:
                    raise ConditionFailed(op.partition, op.sort)
            for op in operations:
                key = (op.partition, op.sort)
                if isinstance(op, Delete):
                    self.items.pop(key, None)
                    continue
                version = self.items[key].version if key in self.items else 0
                self.items[key] = StoredItem(
                    partition=op.partition,
                    sort=op.sort,
                    data=dict(op.data),
                    version=version + 1,
                    index_key=op.index_key,
                    expires_at=op.expires_at,
                )
            self.writes += 1

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        results: list[ConditionFailed | None] = []
        for group in groups:
            try:
                self.write(*group)
            except ConditionFailed as exc:
                results.append(exc)
            else:
                results.append(None)
        return results


@dataclass
class _Message:
    message_id: str
    body: str
    group: str
    visible_at: datetime
    sent_at: datetime
    receive_count: int = 0
    receipt: str | None = None
    dead: bool = False
    reason: str = ""


class FakeQueue:
    """An SQS-like queue in memory, on an injected clock."""

    def __init__(
        self,
        clock: ManualClock,
        *,
        visibility_timeout: int = 120,
        max_receives: int = 3,
        max_delay_seconds: int = 900,
    ) -> None:
        self.clock = clock
        self.visibility_timeout = visibility_timeout
        self.max_receives = max_receives
        self.max_delay_seconds = max_delay_seconds
        self.messages: dict[str, _Message] = {}
        self._seq = itertools.count()

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        if not 0 <= delay_seconds <= self.max_delay_seconds:
            raise ValueError(f"delay must be within 0..{self.max_delay_seconds} s")
        message_id = f"m{next(self._seq)}"
        now = self.clock.now()
        self.messages[message_id] = _Message(
            message_id, message.body, message.group, now + timedelta(seconds=delay_seconds), now
        )
        return message_id

    def send_many(self, messages: Sequence[tuple[QueueMessage, int]]) -> list[str]:
        return [self.send(message, delay) for message, delay in messages]

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        now = self.clock.now()
        visible = sorted(
            (m for m in self.messages.values() if not m.dead and m.visible_at <= now),
            key=lambda m: (m.visible_at, m.sent_at),
        )
        out = []
        for message in visible[:max_messages]:
            if message.receive_count >= self.max_receives:
                message.dead, message.receipt = True, None
                message.reason = f"received {message.receive_count} times without being acknowledged"
                continue
            message.receive_count += 1
            message.receipt = uuid.uuid4().hex
            message.visible_at = now + timedelta(seconds=self.visibility_timeout)
            out.append(
                ReceivedMessage(
                    message_id=message.message_id,
                    receipt=message.receipt,
                    body=message.body,
                    group=message.group,
                    receive_count=message.receive_count,
                )
            )
        return out

    def _by_receipt(self, receipt: str) -> _Message | None:
        return next((m for m in self.messages.values() if m.receipt == receipt and not m.dead), None)

    def ack(self, receipt: str) -> None:
        message = self._by_receipt(receipt)
        if message is not None:
            del self.messages[message.message_id]

    def dead_letter(self, receipt: str, reason: str) -> None:
        message = self._by_receipt(receipt)
        if message is not None:
            message.dead, message.reason, message.receipt = True, reason, None

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        dead = sorted((m for m in self.messages.values() if m.dead), key=lambda m: m.sent_at)[:limit]
        return [
            DeadLetter(
                message_id=m.message_id,
                body=m.body,
                group=m.group,
                reason=m.reason,
                receive_count=m.receive_count,
            )
            for m in dead
        ]

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        moved = 0
        for message in self.messages.values():
            if message.dead and (message_ids is None or message.message_id in message_ids):
                message.dead, message.reason, message.receive_count = False, "", 0
                message.visible_at, message.receipt = self.clock.now(), None
                moved += 1
        return moved

    def stats(self) -> QueueStats:
        now = self.clock.now()
        live = [m for m in self.messages.values() if not m.dead]
        visible = [m for m in live if m.visible_at <= now]
        return QueueStats(
            visible=len(visible),
            in_flight=sum(1 for m in live if m.receipt is not None and m.visible_at > now),
            delayed=sum(1 for m in live if m.receipt is None and m.visible_at > now),
            dead=sum(1 for m in self.messages.values() if m.dead),
            oldest_age_s=max(((now - m.sent_at).total_seconds() for m in visible), default=0.0),
        )


@dataclass
class ScriptedMailer:
    """Records what it accepted; a script decides per recipient (or per call) what happens instead."""

    name: str = "scripted"
    sent: list[OutboundEmail] = field(default_factory=list)
    script: dict[str, list[MailError | Callable[[], None]]] = field(default_factory=dict)
    every: Callable[[OutboundEmail], None] | None = None

    def fail_next(self, recipient: str, *errors: MailError | Callable[[], None]) -> None:
        self.script.setdefault(recipient, []).extend(errors)

    def send(self, email: OutboundEmail) -> SendReceipt:
        if self.every is not None:
            self.every(email)
        queued = self.script.get(email.recipient.email)
        if queued:
            action = queued.pop(0)
            if isinstance(action, MailError):
                raise action
            action()
        self.sent.append(email)
        local = email.message_id.strip("<>").split("@", 1)[0]
        return SendReceipt(provider_message_id=local, rfc_message_id=email.message_id)

    def to(self, recipient: str) -> list[OutboundEmail]:
        return [e for e in self.sent if e.recipient.email == recipient]


class InMemoryArchive:
    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}

    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        self.blobs[key] = body
        return f"mem://{key}"

    def get(self, ref: str) -> bytes:
        try:
            return self.blobs[ref.removeprefix("mem://")]
        except KeyError:
            raise KeyError(ref) from None


class FakeMailbox:
    """An IMAP folder in memory, with ImapMailbox's contract (tests/contracts/test_mailbox_contract.py):
    UIDs ascend from 1, `fetch_new` gives those above `after_uid` (all of them when the UIDVALIDITY
    the caller knows is not the folder's), at most `limit`, and says whether more are waiting."""

    def __init__(self, uidvalidity: int = 1000) -> None:
        self.uidvalidity = uidvalidity
        self.messages: list[tuple[int, bytes]] = []
        self.fetches = 0

    def append(self, raw: bytes) -> int:
        uid = (self.messages[-1][0] + 1) if self.messages else 1
        self.messages.append((uid, raw))
        return uid

    def renumber(self, uidvalidity: int) -> None:
        """The server rebuilt the folder: new UIDVALIDITY, UIDs from 1 again."""
        self.uidvalidity = uidvalidity
        self.messages = [(n + 1, raw) for n, (_, raw) in enumerate(self.messages)]

    def fetch_new(self, uidvalidity: int | None, after_uid: int, limit: int = 50) -> Any:
        from adapters.imap_mailbox import FetchedMessage, FetchResult

        self.fetches += 1
        start = after_uid if uidvalidity == self.uidvalidity else 0
        new = [FetchedMessage(uid, raw) for uid, raw in self.messages if uid > start]
        return FetchResult(self.uidvalidity, new[:limit], more=len(new) > limit)
