"""Read-ahead: what one unit of work (a queue message, a page of due timers) reads, fetched in one round
trip and kept for the rest of that unit.

A `ReadAhead` is a StateStore over the real one. `prefetch(keys)` reads many items at once (DynamoDB:
one BatchGetItem); `get` answers from what it holds, absent items included, and reads through for the
rest. It never weakens a write: every write goes to the real store with its own condition, and

  - a successful conditional Put leaves the item as written (its new version is known: expected + 1),
    a Delete leaves it absent, an unconditional Put is forgotten (its version is not known);
  - a write that lost its condition forgets what it wrote (every item of it, the one that moved and
    the rest): the caller's compare-and-set loop reads those afresh and keeps the rest of what it
    read. Those it did not write were not guarded by the write anyway, so the retry sees what a
    first attempt reading them at the start would have seen; and a retry after a lost race (several
    workers moving a tenant's shared counters) costs one read of the documents it writes, not of
    everything again;
  - any other failed write forgets everything.

So a unit of work sees what it would have seen by reading each item at its start, which is what the
services assume anyway (a read is stale the moment it returns; the conditional writes decide). Queries
and index lookups are not kept. The scope is opened by `Records.read_ahead()` and lasts one unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from outreach_core.ports import ConditionFailed, Delete, Key, Put, StateStore, StoredItem


class ReadAhead:
    def __init__(self, store: StateStore) -> None:
        self.store = store
        self._items: dict[Key, StoredItem | None] = {}

    def prefetch(self, keys: Iterable[Key]) -> None:
        """Read every key not held yet, in as few round trips as the store allows."""
        missing = [key for key in dict.fromkeys(keys) if key not in self._items]
        if not missing:
            return
        found = self.store.get_many(missing) if len(missing) > 1 else self._one(missing[0])
        for key in missing:
            self._items[key] = found.get(key)

    def _one(self, key: Key) -> dict[Key, StoredItem]:
        item = self.store.get(*key)
        return {key: item} if item is not None else {}

    def forget(self, keys: Iterable[Key] | None = None) -> None:
        """Drop these keys (all when None): a long unit of work lets go of what it is done with."""
        if keys is None:
            self._items.clear()
            return
        for key in keys:
            self._items.pop(key, None)

    # --- the StateStore port ------------------------------------------------------------------------

    def get(self, partition: str, sort: str) -> StoredItem | None:
        key = (partition, sort)
        if key not in self._items:
            self._items[key] = self.store.get(partition, sort)
        return self._items[key]

    def get_many(self, keys: Sequence[Key]) -> dict[Key, StoredItem]:
        self.prefetch(keys)
        return {key: item for key in keys if (item := self._items[key]) is not None}

    def query(
        self,
        partition: str,
        prefix: str,
        *,
        upto: str | None = None,
        after: str | None = None,
        limit: int | None = None,
    ) -> list[StoredItem]:
        return self.store.query(partition, prefix, upto=upto, after=after, limit=limit)

    def find(self, index_key: str) -> list[StoredItem]:
        return self.store.find(index_key)

    def write(self, *operations: Put | Delete) -> None:
        try:
            self.store.write(*operations)
        except ConditionFailed:
            self.forget((op.partition, op.sort) for op in operations)
            raise
        except BaseException:
            self._items.clear()
            raise
        self._wrote(operations)

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        try:
            results = self.store.write_many(groups)
        except BaseException:
            self._items.clear()
            raise
        if any(result is not None for result in results):
            self._items.clear()
            return results
        for group in groups:
            self._wrote(group)
        return results

    def _wrote(self, operations: Sequence[Put | Delete]) -> None:
        for op in operations:
            key = (op.partition, op.sort)
            if isinstance(op, Delete):
                self._items[key] = None
            elif op.expected_version is None:
                self._items.pop(key, None)
            else:
                self._items[key] = StoredItem(
                    partition=op.partition,
                    sort=op.sort,
                    data=op.data,
                    version=op.expected_version + 1,
                    index_key=op.index_key,
                    expires_at=op.expires_at,
                )
