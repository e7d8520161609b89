"""The read-ahead scope after a lost write: what the write touched is read again, the rest is kept."""

from __future__ import annotations

import pytest

from outreach_core.ports import ConditionFailed, Put
from outreach_core.read_ahead import ReadAhead
from tests.fakes import InMemoryStateStore


def _put(sort: str, n: int, version: int | None) -> Put:
    return Put(partition="P", sort=sort, data={"n": n}, expected_version=version)


def test_a_lost_write_forgets_what_it_wrote_and_keeps_what_it_only_read() -> None:
    store = InMemoryStateStore()
    store.write(_put("hot", 1, 0), _put("mine", 1, 0), _put("read", 1, 0))
    view = ReadAhead(store)
    view.prefetch([("P", "hot"), ("P", "mine"), ("P", "read")])
    store.write(_put("hot", 2, 1), _put("read", 2, 1))  # another worker moves two of them
    with pytest.raises(ConditionFailed):
        view.write(_put("hot", 3, 1), _put("mine", 3, 1))
    # the items of the lost write come from the store again: the other worker's `hot`, the stored `mine`
    assert view.get("P", "hot").data == {"n": 2}  # type: ignore[union-attr]
    assert view.get("P", "mine").version == 1  # type: ignore[union-attr]
    # what the write did not touch stays as read at the start of the unit of work
    assert view.get("P", "read").data == {"n": 1}  # type: ignore[union-attr]
    view.write(_put("hot", 3, 2), _put("mine", 3, 1))  # the retry on what was read again wins
    assert store.get("P", "hot").data == {"n": 3}  # type: ignore[union-attr]


def test_any_other_failure_of_a_write_forgets_everything() -> None:
    store = InMemoryStateStore()
    store.write(_put("read", 1, 0))
    view = ReadAhead(store)
    view.prefetch([("P", "read"), ("P", "other")])
    store.write(_put("read", 2, 1))
    with pytest.raises(ValueError, match="once"):
        view.write(_put("x", 1, None), _put("x", 2, None))
    assert view.get("P", "read").data == {"n": 2}  # type: ignore[union-attr]
