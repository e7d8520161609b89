"""Records: the domain's items laid out on the StateStore port.

One layout for every backend (SQLite, DynamoDB, in-memory): partition `T#<tenant>` holds all of a
tenant's items, `GLOBAL` the tenant registry and the global suppression list. Sort keys:

  DIR#<id> IDENT#<id> TPL#<id> CAMP#<id> LEAD#<lead_id>     entities
  TPLREV#<id>#<revision>                                   earlier revisions of a template
  JOB#<campaign>_<lead>_<step>                             jobs (index key MSG#<provider id> once sent)
  TIMER#<kind>#<yyyymmddThhmmss>#<job_id>                  work due at a time: step / wake / lease
  SUPP#<email hash>                                        suppression
  DNC#<domain>                                             the tenant's do-not-contact domains
  QUOTA#<day>  ADMIT                                      the planner's daily and hourly admission
  LIM#tenant  LIM#ident#<id>  LIM#prov#<id>#<provider>     limiter windows, warm-up, AIMD (limiter.py)
  POLICY                                                   the tenant's overrides of the sending policy
  WIN#<scope>#<id>  ROT#<direction>  SOFT#<email hash>     auto-stop windows, rotation, soft bounces
  (GLOBAL) LIM#account  ADMIT#account                      SES quotas; the account's slot chain
  EVENT#<event id>  AUDIT#<time>#<n>                       dedupe, audit log
  INBOX#<time>-<hash>  MBOX#<identity>                     the unified inbox; an IMAP mailbox's seen-state
  WHE#<id>  WHD#<time>-<hash>                              webhook endpoints and deliveries

Every method takes the tenant id and builds the partition itself: no call can reach another tenant.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict

from outreach_core.domain.audit import AuditEntry
from outreach_core.domain.ids import email_hash
from outreach_core.domain.inbox import InboxMessage
from outreach_core.domain.jobs import MessageJob
from outreach_core.domain.models import Campaign, Direction, Entity, Lead, SenderIdentity, Template, Tenant
from outreach_core.domain.suppression import DomainBlock, SuppressionEntry, SuppressionScope
from outreach_core.domain.webhooks import WebhookDelivery, WebhookEndpoint
from outreach_core.ports import ConditionFailed, Delete, JsonDocument, Key, Put, StateStore, StoredItem
from outreach_core.read_ahead import ReadAhead

GLOBAL = "GLOBAL"
TIME_FORMAT = "%Y%m%dT%H%M%S"
EVENT_RETENTION = timedelta(days=30)

E = TypeVar("E", bound=Entity)
M = TypeVar("M", bound=BaseModel)
_MODELS_KEPT = 8192  # models kept by (key, version, etag): the hot documents of a process, bounded


def tenant_partition(tenant_id: str) -> str:
    return f"T#{tenant_id}"


def stamp(at: datetime) -> str:
    """`at` as TIME_FORMAT writes it (a timer's sort key: read on every timer compared and saved, so
    formatted by hand, three times faster than strftime)."""
    # %-formatting: a third of the time of an f-string with format specs here (measured)
    return "%04d%02d%02dT%02d%02d%02d" % (at.year, at.month, at.day, at.hour, at.minute, at.second)  # noqa: UP031


class AlreadyExistsError(ValueError):
    pass


class NotFoundError(KeyError):
    pass


class TimerKind(StrEnum):
    STEP = "step"  # a campaign step becomes due for a lead: the planner plans it
    WAKE = "wake"  # a claimed job must be (re-)enqueued
    LEASE = "lease"  # a sender's lease on a `sending` job expires: reconcile


class Timer(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant_id: str
    at: datetime
    kind: TimerKind
    job_id: str
    campaign_id: str
    lead_id: str
    step: int
    # Refiled to wait for its direction's room (not for a window or a sequence delay): a capacity change
    # makes it due at once (services.sequence.pull_waiting_steps).
    for_room: bool = False

    @property
    def sort(self) -> str:
        return f"TIMER#{self.kind.value}#{stamp(self.at)}#{self.job_id}"


_ENTITY_PREFIX: dict[type[Entity], str] = {
    Direction: "DIR#",
    SenderIdentity: "IDENT#",
    Template: "TPL#",
    Campaign: "CAMP#",
    Lead: "LEAD#",
    InboxMessage: "INBOX#",
    WebhookEndpoint: "WHE#",
    WebhookDelivery: "WHD#",
}


def _data(model: BaseModel) -> JsonDocument:
    """A model as the document the stores keep: its JSON text, written by pydantic-core in one pass
    (the same values as model_dump(mode="json"), not built as dicts and then encoded)."""
    return JsonDocument(model.model_dump_json())


class _Models:
    """Models built from stored items, kept by (class, key) with the version and etag they were built
    from: an item read again unchanged (same version, same etag) gives the same model, not a new
    validation. Exact, since the models are frozen and an etag stands for the stored content; items
    without an etag are always built. Least recently used first out."""

    def __init__(self, size: int = _MODELS_KEPT) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[type[BaseModel], str, str], tuple[int, str, BaseModel]] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, cls: type[M], item: StoredItem, *, versioned: bool = True) -> M:
        if item.etag is None:
            return _build(cls, item, versioned)
        key = (cls, item.partition, item.sort)
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] == item.version and kept[1] == item.etag:
                self._kept.move_to_end(key)
                return kept[2]  # type: ignore[return-value]  # kept under its own class
        model = _build(cls, item, versioned)
        with self._lock:
            self._kept[key] = (item.version, item.etag, model)
            self._kept.move_to_end(key)
            if len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return model


def _build(cls: type[M], item: StoredItem, versioned: bool) -> M:
    data = item.data
    if isinstance(data, JsonDocument) and not data.parsed:
        # Validated from the text in one pass (pydantic-core parses it), not parsed into dicts first.
        model = cls.model_validate_json(data.text)
        if versioned and "version" in cls.model_fields and getattr(model, "version", None) != item.version:
            model = model.model_copy(update={"version": item.version})  # the store's, not the text's
        return model
    return cls.model_validate({**data, "version": item.version} if versioned else data)


class Records:
    """Typed reads and writes of domain records. Cheap to build; its state is the read-ahead scope of
    the calling thread (`read_ahead`), so the services sharing one Records share its reads, and the
    models it built from unchanged items (`_Models`)."""

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self._scope = threading.local()
        self._models = _Models()

    def _load(self, cls: type[E], item: StoredItem) -> E:
        return self._models.load(cls, item)

    def entity(self, cls: type[E], item: StoredItem) -> E:
        """The entity an item read straight from the store holds (kept like every model read here)."""
        return self._load(cls, item)

    def _timer(self, item: StoredItem) -> Timer:
        return self._models.load(Timer, item, versioned=False)

    @property
    def store(self) -> StateStore:
        """The store, seen through this thread's read-ahead scope when one is open."""
        view: ReadAhead | None = getattr(self._scope, "view", None)
        return view if view is not None else self._store

    @store.setter
    def store(self, store: StateStore) -> None:
        self._store = store

    @contextmanager
    def read_ahead(self) -> Iterator[ReadAhead]:
        """A read-ahead scope for one unit of work on this thread (outreach_core.read_ahead); a scope
        opened inside another is the outer one."""
        outer: ReadAhead | None = getattr(self._scope, "view", None)
        if outer is not None:
            yield outer
            return
        view = ReadAhead(self._store)
        self._scope.view = view
        try:
            yield view
        finally:
            self._scope.view = None

    def prefetch(self, keys: list[Key]) -> None:
        """Read these keys in one go when a read-ahead scope is open (else nothing: reads go one by one)."""
        view: ReadAhead | None = getattr(self._scope, "view", None)
        if view is not None:
            view.prefetch(keys)

    def refresh(self, keys: list[Key]) -> None:
        """Read these keys again, in one go, when a read-ahead scope is open: documents other workers
        keep moving, read once more just before they are used (else nothing: reads go to the store)."""
        view: ReadAhead | None = getattr(self._scope, "view", None)
        if view is not None:
            view.forget(keys)
            view.prefetch(keys)

    # --- keys, for prefetching -------------------------------------------------------------------

    @staticmethod
    def tenant_key(tenant_id: str) -> Key:
        return GLOBAL, f"TENANT#{tenant_id}"

    @staticmethod
    def entity_key(kind: type[Entity], tenant_id: str, ident: str) -> Key:
        return tenant_partition(tenant_id), _ENTITY_PREFIX[kind] + ident

    @classmethod
    def job_key(cls, tenant_id: str, job_id: str) -> Key:
        return tenant_partition(tenant_id), cls.job_sort(job_id)

    @staticmethod
    def suppression_keys(tenant_id: str, email: str) -> tuple[Key, Key]:
        digest = email_hash(email)
        return (tenant_partition(tenant_id), f"SUPP#{digest}"), (GLOBAL, f"SUPP#{digest}")

    @staticmethod
    @functools.lru_cache(maxsize=65_536)  # a pure function of its arguments; a list shares few domains
    def domain_block_keys(tenant_id: str, domain: str) -> tuple[Key, ...]:
        """The keys of the do-not-contact entries of the domain and each parent of it with at least
        two labels, nearest first."""
        labels = domain.lower().rstrip(".").split(".")
        partition = tenant_partition(tenant_id)
        return tuple((partition, f"DNC#{'.'.join(labels[i:])}") for i in range(len(labels) - 1))

    @staticmethod
    def state_key(tenant_id: str, sort: str) -> Key:
        return tenant_partition(tenant_id), sort

    # --- tenants ---------------------------------------------------------------------------------

    def create_tenant(self, tenant: Tenant) -> Tenant:
        self._create(GLOBAL, f"TENANT#{tenant.id}", tenant)
        return tenant.model_copy(update={"version": 1})

    def tenant(self, tenant_id: str) -> Tenant:
        item = self.store.get(GLOBAL, f"TENANT#{tenant_id}")
        if item is None:
            raise NotFoundError(f"no tenant {tenant_id!r}")
        return self._load(Tenant, item)

    def tenants(self) -> list[Tenant]:
        return [self._load(Tenant, i) for i in self.store.query(GLOBAL, "TENANT#")]

    def replace_tenant(self, tenant: Tenant) -> Tenant:
        return self._replace(GLOBAL, f"TENANT#{tenant.id}", tenant)

    # --- tenant-owned entities -------------------------------------------------------------------

    def _key(self, entity: Entity) -> tuple[str, str]:
        tenant_id: str = getattr(entity, "tenant_id")  # noqa: B009 - every owned entity has one
        ident: str = getattr(entity, "id")  # noqa: B009
        return tenant_partition(tenant_id), _ENTITY_PREFIX[type(entity)] + ident

    def create(self, entity: E) -> E:
        partition, sort = self._key(entity)
        self._create(partition, sort, entity)
        return entity.model_copy(update={"version": 1})

    def create_op(self, entity: Entity) -> Put:
        partition, sort = self._key(entity)
        return Put(partition=partition, sort=sort, data=_data(entity), expected_version=0)

    def replace(self, entity: E) -> E:
        partition, sort = self._key(entity)
        return self._replace(partition, sort, entity)

    def replace_op(self, entity: Entity) -> Put:
        """Write `entity` if the stored one is still at the version it was read at."""
        partition, sort = self._key(entity)
        return Put(partition=partition, sort=sort, data=_data(entity), expected_version=entity.version)

    def get(self, cls: type[E], tenant_id: str, ident: str) -> E:
        found = self.find(cls, tenant_id, ident)
        if found is None:
            self.tenant(tenant_id)  # a mistyped tenant says so, not that it lacks the campaign
            raise NotFoundError(f"tenant {tenant_id!r} has no {cls.__name__.lower()} {ident!r}")
        return found

    def find(self, cls: type[E], tenant_id: str, ident: str) -> E | None:
        item = self.store.get(tenant_partition(tenant_id), _ENTITY_PREFIX[cls] + ident)
        return self._load(cls, item) if item else None

    def delete_op(self, entity: Entity) -> Delete:
        """Remove an owned entity if it is still at the version read (erasure)."""
        partition, sort = self._key(entity)
        return Delete(partition=partition, sort=sort, expected_version=entity.version)

    def all(self, cls: type[E], tenant_id: str) -> list[E]:
        return [
            self._load(cls, i) for i in self.store.query(tenant_partition(tenant_id), _ENTITY_PREFIX[cls])
        ]

    def each(self, cls: type[E], tenant_id: str, page: int = 1000) -> Iterator[E]:
        """All of a tenant's entities of a kind, a page at a time (a million leads are never held)."""
        after: str | None = None
        while True:
            items = self.store.query(
                tenant_partition(tenant_id), _ENTITY_PREFIX[cls], after=after, limit=page
            )
            yield from (_build(cls, i, True) for i in items)  # a whole list: not kept
            if len(items) < page:
                return
            after = items[-1].sort

    def _create(self, partition: str, sort: str, entity: Entity) -> None:
        try:
            self.store.write(Put(partition=partition, sort=sort, data=_data(entity), expected_version=0))
        except ConditionFailed as exc:
            raise AlreadyExistsError(
                f"{sort.split('#', maxsplit=1)[0].lower()} {sort.split('#', 1)[1]!r} already exists"
            ) from exc

    def _replace(self, partition: str, sort: str, entity: E) -> E:
        self.store.write(
            Put(partition=partition, sort=sort, data=_data(entity), expected_version=entity.version)
        )
        return entity.model_copy(update={"version": entity.version + 1})

    # --- template revisions ----------------------------------------------------------------------

    @staticmethod
    def _revision_sort(template_id: str, revision: int) -> str:
        return f"TPLREV#{template_id}#{revision:06d}"

    def template_revision_put(self, template: Template) -> Put:
        """Keep `template` as it is (an earlier revision, before an update replaces it)."""
        return Put(
            partition=tenant_partition(template.tenant_id),
            sort=self._revision_sort(template.id, template.revision),
            data=_data(template),
            expected_version=0,
        )

    def template_revisions(self, tenant_id: str, template_id: str) -> list[Template]:
        """Every revision, oldest first, the current one last."""
        items = self.store.query(tenant_partition(tenant_id), f"TPLREV#{template_id}#")
        return [*(Template.model_validate(i.data) for i in items), self.get(Template, tenant_id, template_id)]

    def template_at(self, tenant_id: str, template_id: str, revision: int | None) -> Template:
        current = self.get(Template, tenant_id, template_id)
        if revision is None or revision == current.revision:
            return current
        item = self.store.get(tenant_partition(tenant_id), self._revision_sort(template_id, revision))
        if item is None:
            raise NotFoundError(f"template {template_id!r} has no revision {revision}")
        return Template.model_validate(item.data)

    # --- jobs ------------------------------------------------------------------------------------

    @staticmethod
    def job_sort(job_id: str) -> str:
        return f"JOB#{job_id}"

    def job(self, tenant_id: str, job_id: str) -> MessageJob | None:
        item = self.store.get(tenant_partition(tenant_id), self.job_sort(job_id))
        return self._load(MessageJob, item) if item else None

    def jobs(self, tenant_id: str, campaign_id: str | None = None) -> list[MessageJob]:
        prefix = self.job_sort(f"{campaign_id}_" if campaign_id else "")
        # Every job of a tenant or campaign: built, not kept (it would push the hot documents out).
        return [_build(MessageJob, i, True) for i in self.store.query(tenant_partition(tenant_id), prefix)]

    def job_statuses(self, tenant_id: str, campaign_id: str) -> Iterator[str]:
        """The status of each of a campaign's jobs, read without building the jobs (a campaign's
        completion check looks at every one of them)."""
        prefix = self.job_sort(f"{campaign_id}_")
        for item in self.store.query(tenant_partition(tenant_id), prefix):
            yield str(item.data["status"])

    def lead_campaign_jobs(self, tenant_id: str, campaign_id: str, lead_id: str) -> list[MessageJob]:
        """One lead's jobs in one campaign (one prefix query)."""
        prefix = self.job_sort(f"{campaign_id}_{lead_id}_")
        return [self._load(MessageJob, i) for i in self.store.query(tenant_partition(tenant_id), prefix)]

    def lead_jobs(self, tenant_id: str, lead_id: str) -> list[MessageJob]:
        """One lead's jobs in every campaign of the tenant (a prefix query per campaign)."""
        jobs: list[MessageJob] = []
        for campaign in self.store.query(tenant_partition(tenant_id), _ENTITY_PREFIX[Campaign]):
            prefix = self.job_sort(f"{campaign.data['id']}_{lead_id}_")
            jobs.extend(
                self._load(MessageJob, i) for i in self.store.query(tenant_partition(tenant_id), prefix)
            )
        return jobs

    def job_by_message_id(self, provider_message_id: str) -> MessageJob | None:
        items = self.store.find(f"MSG#{provider_message_id}")
        return self._load(MessageJob, items[0]) if items else None

    def job_op(self, job: MessageJob, *, expected_version: int | None) -> Put:
        """Write `job` if the stored one is still at `expected_version` (0: claim, must not exist)."""
        return Put(
            partition=tenant_partition(job.tenant_id),
            sort=self.job_sort(job.job_id),
            data=_data(job),
            expected_version=expected_version,
            index_key=f"MSG#{job.provider_message_id}" if job.provider_message_id else None,
        )

    def save_job(self, job: MessageJob, *extra: Put | Delete) -> MessageJob:
        """Compare-and-set on the job's version, together with `extra` in one atomic write."""
        self.store.write(self.job_op(job, expected_version=job.version), *extra)
        return job.model_copy(update={"version": job.version + 1})

    # --- timers ----------------------------------------------------------------------------------

    def timer_put(self, timer: Timer) -> Put:
        return Put(partition=tenant_partition(timer.tenant_id), sort=timer.sort, data=_data(timer))

    def timer_delete(self, timer: Timer) -> Delete:
        return Delete(partition=tenant_partition(timer.tenant_id), sort=timer.sort)

    def timers_due(
        self,
        tenant_id: str,
        kind: TimerKind,
        until: datetime,
        *,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[Timer]:
        """Timers of one kind due by `until`, oldest first; `after` (a sort key) pages on.

        Sort keys hold whole seconds, so the query reaches to the end of `until`'s second; timers later
        in that second (`at` > until) are not due yet and are left out. A page may therefore hold fewer
        than `limit` timers while more are due (never none): page on with `after` = the last one's sort."""
        prefix = f"TIMER#{kind.value}#"
        while True:
            items = self.store.query(
                tenant_partition(tenant_id), prefix, upto=f"{prefix}{stamp(until)}~", limit=limit, after=after
            )
            due = [t for t in (self._timer(i) for i in items) if t.at <= until]
            if due or limit is None or len(items) < limit:
                return due
            after = items[-1].sort  # a whole page of not-yet-due timers of until's second

    def next_timer(self, tenant_id: str) -> Timer | None:
        """The earliest timer of any kind."""
        firsts = [
            self.store.query(tenant_partition(tenant_id), f"TIMER#{kind.value}#", limit=1)
            for kind in TimerKind
        ]
        timers = [self._timer(items[0]) for items in firsts if items]
        return min(timers, key=lambda t: t.at) if timers else None

    # --- suppression -----------------------------------------------------------------------------

    @staticmethod
    def suppression_partition(scope: SuppressionScope, tenant_id: str | None) -> str:
        return GLOBAL if scope is SuppressionScope.GLOBAL else tenant_partition(str(tenant_id))

    def suppression_put(self, entry: SuppressionEntry) -> Put:
        return Put(
            partition=self.suppression_partition(entry.scope, entry.tenant_id),
            sort=f"SUPP#{entry.email_hash}",
            data=_data(entry),
        )

    def suppress(self, entry: SuppressionEntry) -> None:
        self.store.write(self.suppression_put(entry))

    def suppression_for(self, tenant_id: str, email: str) -> SuppressionEntry | None:
        """The tenant's entry, else the global one, else None."""
        return self.suppression_at(self.suppression_keys(tenant_id, email))

    def suppression_at(self, keys: Sequence[Key]) -> SuppressionEntry | None:
        """suppression_for, given the address's suppression_keys (worked out once when prefetched)."""
        for partition, sort in keys:
            item = self.store.get(partition, sort)
            if item is not None:
                return SuppressionEntry.model_validate(item.data)
        return None

    def suppressions(self, scope: SuppressionScope, tenant_id: str | None = None) -> list[SuppressionEntry]:
        items = self.store.query(self.suppression_partition(scope, tenant_id), "SUPP#")
        return [SuppressionEntry.model_validate(i.data) for i in items]

    def unsuppress(self, scope: SuppressionScope, tenant_id: str | None, email: str) -> None:
        self.store.write(
            Delete(partition=self.suppression_partition(scope, tenant_id), sort=f"SUPP#{email_hash(email)}")
        )

    # --- do-not-contact domains ---------------------------------------------------------------------

    def domain_block_put(self, block: DomainBlock) -> Put:
        return Put(partition=tenant_partition(block.tenant_id), sort=f"DNC#{block.domain}", data=_data(block))

    def domain_block_for(self, tenant_id: str, domain: str) -> DomainBlock | None:
        """The tenant's entry for the domain or the nearest parent domain of it, else None."""
        for partition, sort in self.domain_block_keys(tenant_id, domain):
            item = self.store.get(partition, sort)
            if item is not None:
                return DomainBlock.model_validate(item.data)
        return None

    def domain_blocks(self, tenant_id: str) -> list[DomainBlock]:
        return [
            DomainBlock.model_validate(i.data) for i in self.store.query(tenant_partition(tenant_id), "DNC#")
        ]

    # --- small state documents (counters, windows, rotation) --------------------------------------

    def state(self, tenant_id: str, sort: str) -> tuple[dict[str, Any], int]:
        """A policy-state document and its version (0 if absent), for compare-and-set updates."""
        item = self.store.get(tenant_partition(tenant_id), sort)
        return (dict(item.data), item.version) if item else ({}, 0)

    def state_model(self, cls: type[M], tenant_id: str, sort: str) -> M | None:
        """A state document as a frozen model (None if absent), built once per stored content: a
        document every send reads and few change (the tenant's policy) is not validated again."""
        item = self.store.get(tenant_partition(tenant_id), sort)
        return self._models.load(cls, item, versioned=False) if item else None

    def state_put(
        self, tenant_id: str, sort: str, data: dict[str, Any], version: int, ttl: int | None = None
    ) -> Put:
        return Put(
            partition=tenant_partition(tenant_id),
            sort=sort,
            data=data,
            expected_version=version,
            expires_at=ttl,
        )

    # --- events and audit ------------------------------------------------------------------------

    def event_claim(self, tenant_id: str | None, event_id: str, at: datetime) -> Put:
        """Claim an event id, so a redelivered event is applied once. Expires after 30 days."""
        partition = tenant_partition(tenant_id) if tenant_id else GLOBAL
        expires = int((at + EVENT_RETENTION).timestamp())
        return Put(
            partition=partition,
            sort=f"EVENT#{event_id}",
            data={"at": at.isoformat()},
            expected_version=0,
            expires_at=expires,
        )

    def audit_put(self, entry: AuditEntry, seq: str) -> Put:
        return Put(
            partition=tenant_partition(entry.tenant_id),
            sort=f"AUDIT#{entry.at.strftime('%Y%m%dT%H%M%S.%f')}#{seq}",
            data=_data(entry),
            expected_version=0,
        )

    def audit(self, tenant_id: str) -> list[AuditEntry]:
        return [
            AuditEntry.model_validate(i.data) for i in self.store.query(tenant_partition(tenant_id), "AUDIT#")
        ]
