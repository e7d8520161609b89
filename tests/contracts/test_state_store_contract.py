"""The StateStore contract, run against every implementation (see conftest.STORE_FACTORIES)."""

from __future__ import annotations

from typing import Any

import pytest

from outreach_core.ports import ConditionFailed, Delete, Put


def put(sort: str, version: int | None = None, partition: str = "T#a", **data: Any) -> Put:
    return Put(partition=partition, sort=sort, data=data or {"v": sort}, expected_version=version)


class TestConditionalWrites:
    def test_a_new_item_starts_at_version_one(self, store: Any) -> None:
        store.write(put("JOB#1", 0))
        item = store.get("T#a", "JOB#1")
        assert item is not None and item.version == 1 and item.data == {"v": "JOB#1"}

    def test_claiming_an_existing_item_fails_and_changes_nothing(self, store: Any) -> None:
        store.write(put("JOB#1", 0, x=1))
        with pytest.raises(ConditionFailed) as failed:
            store.write(put("JOB#1", 0, x=2))
        assert failed.value.sort == "JOB#1"
        assert store.get("T#a", "JOB#1").data == {"x": 1}

    def test_compare_and_set_succeeds_only_at_the_expected_version(self, store: Any) -> None:
        store.write(put("DOC", 0, n=1))
        store.write(put("DOC", 1, n=2))
        with pytest.raises(ConditionFailed):
            store.write(put("DOC", 1, n=3))
        item = store.get("T#a", "DOC")
        assert item.version == 2 and item.data == {"n": 2}

    def test_an_unconditional_put_overwrites_and_bumps_the_version(self, store: Any) -> None:
        store.write(put("DOC", None, n=1))
        store.write(put("DOC", None, n=2))
        assert store.get("T#a", "DOC").version == 2

    def test_a_multi_item_write_is_all_or_nothing(self, store: Any) -> None:
        store.write(put("A", 0), put("B", 0))
        with pytest.raises(ConditionFailed):
            store.write(put("C", 0), put("A", 0), Delete(partition="T#a", sort="B"))
        assert store.get("T#a", "C") is None
        assert store.get("T#a", "B") is not None

    def test_conditional_delete(self, store: Any) -> None:
        store.write(put("A", 0))
        with pytest.raises(ConditionFailed):
            store.write(Delete(partition="T#a", sort="A", expected_version=7))
        store.write(Delete(partition="T#a", sort="A", expected_version=1))
        assert store.get("T#a", "A") is None

    def test_deleting_a_missing_item_is_harmless(self, store: Any) -> None:
        store.write(Delete(partition="T#a", sort="nothing"))


class TestQueries:
    def test_prefix_query_is_sorted_and_stays_in_its_partition(self, store: Any) -> None:
        store.write(put("JOB#b", 0), put("JOB#a", 0), put("LEAD#x", 0), put("JOB#c", 0, partition="T#other"))
        assert [i.sort for i in store.query("T#a", "JOB#")] == ["JOB#a", "JOB#b"]

    def test_upto_after_and_limit_bound_a_range(self, store: Any) -> None:
        store.write(*(put(f"TIMER#2026010{d}", 0) for d in range(1, 8)))
        due = store.query("T#a", "TIMER#", upto="TIMER#20260104~")
        assert [i.sort for i in due] == [f"TIMER#2026010{d}" for d in range(1, 5)]
        page = store.query("T#a", "TIMER#", after="TIMER#20260102", limit=2)
        assert [i.sort for i in page] == ["TIMER#20260103", "TIMER#20260104"]

    def test_secondary_index_finds_items_by_their_index_key(self, store: Any) -> None:
        store.write(
            Put(partition="T#a", sort="JOB#1", data={"j": 1}, index_key="MSG#abc"),
            Put(partition="T#b", sort="JOB#2", data={"j": 2}, index_key="MSG#def"),
        )
        found = store.find("MSG#abc")
        assert [(i.partition, i.sort) for i in found] == [("T#a", "JOB#1")]
        assert store.find("MSG#nothing") == []

    def test_replacing_an_item_moves_its_index_key(self, store: Any) -> None:
        store.write(Put(partition="T#a", sort="JOB#1", data={}, index_key="MSG#old"))
        store.write(Put(partition="T#a", sort="JOB#1", data={}, index_key="MSG#new"))
        assert store.find("MSG#old") == []
        assert len(store.find("MSG#new")) == 1

    def test_unicode_data_round_trips(self, store: Any) -> None:
        store.write(put("LEAD#1", 0, name="Иван Петров", company="ООО «Вектор»"))
        assert store.get("T#a", "LEAD#1").data["name"] == "Иван Петров"

    def test_expiry_is_kept_with_the_item(self, store: Any) -> None:
        store.write(
            Put(partition="T#a", sort="EVENT#1", data={}, expected_version=0, expires_at=1_900_000_000)
        )
        assert store.get("T#a", "EVENT#1").expires_at == 1_900_000_000


class TestBatches:
    def test_get_many_returns_the_items_that_exist_by_key(self, store: Any) -> None:
        store.write(put("A", 0, n=1), put("B", 0, n=2), put("A", 0, partition="GLOBAL", n=3))
        keys = [("T#a", "A"), ("T#a", "missing"), ("GLOBAL", "A"), ("T#a", "B"), ("T#a", "A")]
        found = store.get_many(keys)
        assert {key: item.data["n"] for key, item in found.items()} == {
            ("T#a", "A"): 1,
            ("GLOBAL", "A"): 3,
            ("T#a", "B"): 2,
        }
        assert found[("T#a", "A")].version == 1
        assert store.get_many([]) == {}

    def test_get_many_reads_more_keys_than_one_request_holds(self, store: Any) -> None:
        for start in range(0, 130, 25):
            store.write(*(put(f"K#{n:03d}", 0, n=n) for n in range(start, min(start + 25, 130))))
        found = store.get_many([("T#a", f"K#{n:03d}") for n in range(140)])
        assert sorted(item.data["n"] for item in found.values()) == list(range(130))

    def test_write_many_applies_each_group_on_its_own(self, store: Any) -> None:
        store.write(put("TAKEN", 0))
        groups = [
            [put("J1", 0), put("T1", None)],
            [put("TAKEN", 0), put("T2", None)],  # its condition fails: neither item is written
            [put("J3", 0), Delete(partition="T#a", sort="nothing")],
        ]
        results = store.write_many(groups)
        assert results[0] is None and results[2] is None
        assert isinstance(results[1], ConditionFailed) and results[1].sort == "TAKEN"
        assert store.get("T#a", "T2") is None
        assert store.get("T#a", "J1") is not None and store.get("T#a", "J3") is not None
        assert store.get("T#a", "TAKEN").version == 1

    def test_write_many_takes_more_groups_than_one_transaction_holds(self, store: Any) -> None:
        groups = [[put(f"J#{n:03d}", 0), put(f"W#{n:03d}", None), put(f"S#{n:03d}", None)] for n in range(60)]
        groups.insert(30, [put("J#007", 0)])  # already claimed above by group 7: fails alone
        results = store.write_many(groups)
        assert [n for n, r in enumerate(results) if r is not None] == [30]
        assert len(store.query("T#a", "J#")) == 60 and len(store.query("T#a", "S#")) == 60

    def test_write_many_applies_groups_in_order_each_seeing_those_before_it(self, store: Any) -> None:
        store.write(put("OLD", 0, n=0), put("GONE", 0))
        groups = [
            [put("NEW", 0, n=1)],
            [put("NEW", 1, n=2), put("OLD", None, n=1)],  # NEW is at version 1 after the group before
            [put("NEW", 0, n=3)],  # NEW exists by now: fails
            [Delete(partition="T#a", sort="GONE", expected_version=1)],
            [put("GONE", 0, n=4)],  # deleted just before: may be created again
            [Delete(partition="T#a", sort="OLD", expected_version=1)],  # OLD is at 2: fails
            [Delete(partition="T#a", sort="NEW", expected_version=0), put("X", 0)],  # NEW exists: fails
            [put("OLD", None, n=5)],
        ]
        results = store.write_many(groups)
        failed = [(n, r.sort) for n, r in enumerate(results) if r is not None]
        assert failed == [(2, "NEW"), (5, "OLD"), (6, "NEW")]
        stored = {s: store.get("T#a", s) for s in ("NEW", "OLD", "GONE", "X")}
        assert stored["X"] is None
        assert (stored["NEW"].version, stored["NEW"].data) == (2, {"n": 2})
        assert (stored["OLD"].version, stored["OLD"].data) == (3, {"n": 5})
        assert (stored["GONE"].version, stored["GONE"].data) == (1, {"n": 4})

    def test_write_many_keeps_index_keys_and_expiry(self, store: Any) -> None:
        store.write_many(
            [
                [Put(partition="T#a", sort="JOB#1", data={}, index_key="MSG#a", expected_version=0)],
                [Put(partition="T#a", sort="EV#1", data={}, expected_version=0, expires_at=1_900_000_000)],
            ]
        )
        assert [i.sort for i in store.find("MSG#a")] == ["JOB#1"]
        assert store.get("T#a", "EV#1").expires_at == 1_900_000_000

    def test_write_many_of_nothing_writes_nothing(self, store: Any) -> None:
        assert store.write_many([]) == []


class TestEtags:
    """A store may tag what it returns with an etag (SQLite does; the others give None): equal etags of
    an item at one version must mean equal data, or models built from one read would serve another."""

    def test_an_etag_changes_with_the_content_even_at_the_same_version(self, store: Any) -> None:
        store.write(put("DOC", 0, n=1))
        first, again = store.get("T#a", "DOC"), store.get("T#a", "DOC")
        store.write(Delete(partition="T#a", sort="DOC"))
        store.write(put("DOC", 0, n=2))  # re-created: version 1 again, other data
        recreated = store.get("T#a", "DOC")
        [queried] = store.query("T#a", "DOC")
        assert first.version == recreated.version == 1 and first.data != recreated.data
        tags = [first.etag, again.etag, recreated.etag, queried.etag]
        if any(tag is not None for tag in tags):
            assert None not in tags
            assert first.etag == again.etag and recreated.etag == queried.etag
            assert first.etag != recreated.etag
