"""Ports: the small interfaces the core needs from the outside world. Adapters implement them.

Every method documents its contract: what it raises, what is atomic, how tenants are kept apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from outreach_core.domain.mail import OutboundEmail, SendReceipt


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC). The only source of time the core uses."""
        ...


# --- State -----------------------------------------------------------------------------------------


class JsonDocument(Mapping[str, Any]):
    """A document as its JSON text, parsed on first use. The stores keep documents as JSON text: one
    written as a JsonDocument is stored as `text`, never encoded again, and one read as a JsonDocument
    can be validated from `text` in one pass (pydantic-core parses JSON itself), never built as dicts;
    items read ahead and never looked at cost no parsing."""

    __slots__ = ("_parsed", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._parsed: dict[str, Any] | None = None

    @property
    def parsed(self) -> bool:
        return self._parsed is not None

    def _data(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = json.loads(self.text)
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def get(self, key: str, default: Any = None) -> Any:
        return self._data().get(key, default)

    def __eq__(self, other: object) -> bool:
        return self._data() == (other._data() if isinstance(other, JsonDocument) else other)

    __hash__ = None  # type: ignore[assignment]  # like the dict it stands for

    def __repr__(self) -> str:
        return repr(self._data())


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredItem:
    """One record. `partition` always names its owner (`T#<tenant>` or `GLOBAL`), so no query crosses
    tenants; `sort` orders items within it; `index_key` feeds one sparse secondary index.

    Items, puts and deletes are plain dataclasses, not validated models: they are built by the stores
    and the core on every read and write (tens per message), from values already checked.

    `etag`, when a store gives one, stands for the stored content: two reads of an item with equal
    etags (and versions) hold equal data, so a model built from the first serves the second
    (SQLite: the stored JSON text; a store without a cheap one leaves it None)."""

    partition: str
    sort: str
    data: Mapping[str, Any]
    version: int = 0
    index_key: str | None = None
    expires_at: int | None = None
    etag: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Put:
    """Write an item. expected_version: None = unconditional, 0 = must not exist, n = must be at n."""

    partition: str
    sort: str
    data: Mapping[str, Any]
    expected_version: int | None = None
    index_key: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete:
    partition: str
    sort: str
    expected_version: int | None = None


class ConditionFailed(Exception):
    """A conditional write lost: the item changed (or existed) since it was read. Nothing was written."""

    def __init__(self, partition: str, sort: str) -> None:
        super().__init__(f"condition failed on {partition}/{sort}")
        self.partition = partition
        self.sort = sort


Key = tuple[str, str]  # (partition, sort)


class StateStore(Protocol):
    def get(self, partition: str, sort: str) -> StoredItem | None:
        """The item, or None. Strongly consistent."""
        ...

    def get_many(self, keys: Sequence[Key]) -> dict[Key, StoredItem]:
        """The items of these keys that exist (absent ones are left out), strongly consistent, in as few
        round trips as the backend allows (DynamoDB: one BatchGetItem per 100 keys)."""
        ...

    def query(
        self,
        partition: str,
        prefix: str,
        *,
        upto: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredItem]:
        """Items of one partition whose sort key starts with `prefix`, is <= `upto` and > `after`
        (each when given), in sort order, at most `limit` of them."""
        ...

    def find(self, index_key: str) -> list[StoredItem]:
        """Items carrying this secondary index key (e.g. a provider message id). Eventually consistent."""
        ...

    def write(self, *operations: Put | Delete) -> None:
        """Apply all operations atomically, or none: raises ConditionFailed if any condition fails.
        Each successful Put stores version = previous version + 1 (1 for a new item)."""
        ...

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        """Apply each group as `write` would, independently of the others: a group whose condition
        fails (or that lost a race) is not applied and gets its ConditionFailed at its position; the
        others are applied (None). Fewer round trips than a write per group (DynamoDB: groups packed
        whole into transactions of up to 100 items; SQLite: one commit)."""
        ...


# --- Queue -----------------------------------------------------------------------------------------


class QueueMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    body: str
    group: str = Field(description="fairness group: the tenant id")


class ReceivedMessage(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    receipt: str
    body: str
    group: str
    receive_count: int


class DeadLetter(BaseModel):
    model_config = ConfigDict(frozen=True)

    message_id: str
    body: str
    group: str
    reason: str
    receive_count: int


class QueueStats(BaseModel):
    """What an operator watches: backlog, in flight, dead letters, and the age of the oldest waiting one."""

    model_config = ConfigDict(frozen=True)

    visible: int
    in_flight: int
    delayed: int
    dead: int
    oldest_age_s: float


class MessageSink(Protocol):
    """The sending half of a queue: what a publisher needs (webhook deliveries, their retries)."""

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        """Enqueue; invisible for `delay_seconds` (<= the queue's maximum, 900 s on SQS)."""
        ...


class JobQueue(Protocol):
    max_delay_seconds: int

    def send(self, message: QueueMessage, delay_seconds: int = 0) -> str:
        """Enqueue; invisible for `delay_seconds` (<= max_delay_seconds). Returns the message id."""
        ...

    def send_many(self, messages: Sequence[tuple[QueueMessage, int]]) -> list[str]:
        """Enqueue (message, delay_seconds) pairs, as `send` does each, in as few round trips as the
        backend allows (SQS: SendMessageBatch of 10). Returns the message ids in order; raises if any
        message could not be enqueued (those before it may have been)."""
        ...

    def receive(self, max_messages: int = 10) -> list[ReceivedMessage]:
        """Up to max_messages visible messages, hidden for the visibility timeout. At-least-once: a
        message not acked in time comes back, and after too many receives goes to the dead letters."""
        ...

    def ack(self, receipt: str) -> None:
        """Delete a received message. Acking twice or after it came back is harmless."""
        ...

    def dead_letter(self, receipt: str, reason: str) -> None:
        """Move a received message to the dead letters now, with a reason for the person triaging."""
        ...

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """Dead letters, oldest first, without removing them."""
        ...

    def redrive(self, message_ids: Sequence[str] | None = None) -> int:
        """Move dead letters (all, or those ids) back to the queue. Returns how many moved."""
        ...

    def stats(self) -> QueueStats:
        """Depth and age figures (approximate on SQS, where they come from queue attributes)."""
        ...


# --- Mail ------------------------------------------------------------------------------------------


class MailProvider(Protocol):
    name: str

    def send(self, email: OutboundEmail) -> SendReceipt:
        """Hand one message over. Raises a MailError subclass from outreach_core.domain.mail:
        MailThrottled / MailTransientError (not accepted, retry later), MailRejected (never),
        MailSendingPaused (stop everything), MailOutcomeUnknown (maybe accepted: do not resend)."""
        ...


# --- Archive ---------------------------------------------------------------------------------------


class Archive(Protocol):
    def put(self, key: str, body: bytes, content_type: str = "application/json") -> str:
        """Store a blob under a tenant- and date-partitioned key; returns a reference for later reads."""
        ...

    def get(self, ref: str) -> bytes:
        """The blob behind a reference. Raises KeyError if there is none."""
        ...


# --- Alerts ----------------------------------------------------------------------------------------


class Alert(BaseModel):
    """Something a person should know: a campaign paused, an identity blocked, failover engaged..."""

    model_config = ConfigDict(frozen=True)

    kind: (
        str  # campaign.paused | identity.blocked | rate.lowered | dlq.not_empty | ... (telemetry.ALERT_KINDS)
    )
    severity: str = "warning"  # info | warning | critical
    tenant_id: str | None = None
    subject: str
    message: str
    at: datetime
    details: Mapping[str, Any] = Field(default_factory=dict)

    @property
    def dedupe_key(self) -> str:
        """Alerts with the same key within a short window are one alert (no storms)."""
        return f"{self.kind}:{self.tenant_id or '-'}:{self.subject}"


class Notifier(Protocol):
    def notify(self, alert: Alert) -> None:
        """Deliver an alert. Best effort: a notifier failure must not stop sending or feedback."""
        ...


# --- DNS -------------------------------------------------------------------------------------------


class RouteStatus(StrEnum):
    MX = "mx"  # MX records name the hosts that receive its mail
    ADDRESS = "address"  # no MX, but an A / AAAA record: mail goes there (RFC 5321 §5.1)
    NULL_MX = "null_mx"  # "0 ." (RFC 7505): the domain says it accepts no mail
    NO_MAIL = "no_mail"  # neither MX nor address records
    NO_DOMAIN = "no_domain"  # the name does not exist (NXDOMAIN)
    UNKNOWN = "unknown"  # the lookup failed, or an offline table does not know the domain

    @property
    def accepts_mail(self) -> bool | None:
        """True / False when DNS says so; None when it could not tell (never a reason to skip)."""
        if self is RouteStatus.UNKNOWN:
            return None
        return self in (RouteStatus.MX, RouteStatus.ADDRESS)


class MailRoute(BaseModel):
    """Where a domain's mail goes, as DNS tells it."""

    model_config = ConfigDict(frozen=True)

    domain: str
    status: RouteStatus
    mx: tuple[tuple[int, str], ...] = ()  # (preference, host), host without the trailing dot


class MxResolver(Protocol):
    def mx(self, domain: str) -> list[tuple[int, str]]:
        """The domain's MX records as (preference, host), host without the trailing dot. An empty list
        when the domain has none or the lookup failed: the caller falls back to the "other" provider,
        so a DNS outage slows nothing down and breaks no send. Implementations cache."""
        ...

    def route(self, domain: str) -> MailRoute:
        """Whether and where the domain receives mail (MX, A fallback, null MX, no such name), from the
        same cached lookup as `mx`. A failed lookup is UNKNOWN, cached briefly, and never raises."""
        ...


# --- Sending-domain authentication -----------------------------------------------------------------


class SpfFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    domain: str  # where it was read: the MAIL FROM (Return-Path) domain
    record: str | None = None
    error: str = ""  # missing, unparsable, too many lookups: the library's words
    authorised: tuple[str, ...] = ()  # every include / redirect target, recursively
    all: str = ""  # the final "all": fail | softfail | neutral | pass


class DkimFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    selector: str
    record: str | None = None  # the TXT record at <selector>._domainkey.<domain>, CNAMEs followed
    error: str = ""
    key_type: str = ""
    key_bits: int = 0  # 0: no usable key (revoked, missing or unparsable)


class DmarcFacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    record: str | None = None
    location: str = ""  # the domain whose _dmarc record applies (the organisational domain's, maybe)
    error: str = ""
    policy: str = ""  # p=
    adkim: str = "r"
    aspf: str = "r"


class DomainFacts(BaseModel):
    """What DNS says about a sending domain's authentication (the adapter gathers, the core judges)."""

    model_config = ConfigDict(frozen=True)

    domain: str
    checked: bool = True
    not_checked: str = ""  # why not (the offline resolver)
    spf: SpfFacts | None = None
    dkim: tuple[DkimFacts, ...] = ()
    dmarc: DmarcFacts | None = None
    mail_from: str = ""
    mail_from_mx: tuple[str, ...] = ()


class DomainInspector(Protocol):
    def inspect(self, domain: str, *, mail_from: str, selectors: Sequence[str]) -> DomainFacts:
        """SPF of `mail_from`, DKIM keys of `domain` at `selectors`, DMARC of `domain`, MX of
        `mail_from`. Never raises for what DNS answers (a missing record is a fact); an offline
        implementation answers checked=False with its reason."""
        ...


# --- Metrics ---------------------------------------------------------------------------------------


class Metrics(Protocol):
    def emit(self, name: str, value: float = 1.0, unit: str = "Count", **dimensions: str) -> None:
        """Record one value. Names and dimensions come from outreach_core.telemetry: dimensions are
        low-cardinality (an outcome, an event type), never a tenant, campaign, identity or address,
        whose figures come from the store. Never raises: metrics must not stop sending."""
        ...

    def flush(self) -> None:
        """Write out what was recorded; entrypoints call it at the end of each unit of work."""
        ...


# --- Secrets and webhooks --------------------------------------------------------------------------


class SecretUnavailable(LookupError):
    """A secret reference could not be resolved. The message names the reference, never a value."""


class SecretSource(Protocol):
    def resolve(self, ref: str) -> str:
        """The secret behind a reference (`env:NAME`, `file:/path`, `ssm:/name`). Raises
        SecretUnavailable naming the reference when it cannot be read. Implementations may cache."""
        ...


class HttpAnswer(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: int  # 0 when no HTTP answer came (connection refused, timeout, TLS failure)
    detail: str = ""  # the reason phrase or the error, one line, for the delivery log


class WebhookTransport(Protocol):
    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> HttpAnswer:
        """POST the body; never raises for what the network or the receiver does (status 0 instead)."""
        ...
