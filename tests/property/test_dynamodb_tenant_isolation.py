"""Property: random writes and deletes across tenants on the DynamoDB store never make a read of one
tenant's partition return another tenant's item, and every read matches a plain model of the table."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from adapters.aws.dynamodb_store import DynamoDbStateStore
from outreach_core.ports import Delete, Put
from tests.integration.aws import moto_env

TENANTS = ("acme", "acme2", "globex", "Ωmega")  # `acme` is a prefix of `acme2`: no leaks through prefixes
SORTS = st.builds(
    lambda kind, ident: f"{kind}#{ident}",
    st.sampled_from(["JOB", "LEAD", "SUPP", "TIMER#step"]),
    st.text(alphabet="ab1_-é", min_size=0, max_size=4),
)
OPS = st.lists(
    st.tuples(st.sampled_from(["put", "delete"]), st.sampled_from(TENANTS), SORTS, st.integers(0, 99)),
    min_size=1,
    max_size=25,
)
READS = st.lists(
    st.tuples(st.sampled_from(TENANTS), st.sampled_from(["", "JOB#", "LEAD#", "SUPP#", "TIMER#", "JOB#a"])),
    min_size=1,
    max_size=6,
)
_tables = itertools.count()


@pytest.fixture(scope="module")
def dynamodb() -> Iterator[Any]:
    with moto_env.fake_aws_env(), mock_aws():
        yield moto_env.client("dynamodb")


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, reads=READS)
def test_no_read_crosses_tenants(
    dynamodb: Any, ops: list[tuple[str, str, str, int]], reads: list[Any]
) -> None:
    table = f"isolation-{next(_tables)}"
    moto_env.create_table(dynamodb, table)
    store = DynamoDbStateStore(dynamodb, table)
    model: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, tenant, sort, value in ops:
        partition = f"T#{tenant}"
        if kind == "put":
            data = {"tenant": tenant, "value": value}
            store.write(Put(partition=partition, sort=sort, data=data, index_key=f"MSG#{tenant}-{value}"))
            model[(partition, sort)] = data
        else:
            store.write(Delete(partition=partition, sort=sort))
            model.pop((partition, sort), None)
    for tenant, prefix in reads:
        partition = f"T#{tenant}"
        items = store.query(partition, prefix)
        assert all(i.partition == partition and i.data["tenant"] == tenant for i in items)
        expected = sorted(s for (p, s) in model if p == partition and s.startswith(prefix))
        assert [i.sort for i in items] == expected
        for sort in expected[:3]:
            item = store.get(partition, sort)
            assert item is not None and item.data == model[(partition, sort)]
    for (partition, sort), data in list(model.items())[:5]:
        found = store.find(f"MSG#{data['tenant']}-{data['value']}")
        assert all(i.data["tenant"] == data["tenant"] for i in found)
        assert (partition, sort) in {(i.partition, i.sort) for i in found}
    dynamodb.delete_table(TableName=table)
