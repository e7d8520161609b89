"""The DynamoDB table Terraform creates is the one the adapter needs: the table is built on moto from
the Terraform resource itself, and the real adapter writes, reads, queries and finds through its index."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from adapters.aws import dynamodb_store
from adapters.aws.dynamodb_store import DynamoDbStateStore
from outreach_core.ports import ConditionFailed, Put
from tests.integration.aws import moto_env
from tests.terraform import tfconfig


@pytest.fixture(scope="module")
def table(modules: dict[str, tfconfig.Config]) -> dict[str, Any]:
    return modules["state"].resource("aws_dynamodb_table", "this")


def create_table_request(resource: dict[str, Any], name: str) -> dict[str, Any]:
    """CreateTable arguments from the Terraform aws_dynamodb_table body (literal values only)."""
    keys = [{"AttributeName": resource["hash_key"], "KeyType": "HASH"}]
    if "range_key" in resource:
        keys.append({"AttributeName": resource["range_key"], "KeyType": "RANGE"})
    indexes = [
        {
            "IndexName": gsi["name"],
            "KeySchema": [{"AttributeName": gsi["hash_key"], "KeyType": "HASH"}]
            + ([{"AttributeName": gsi["range_key"], "KeyType": "RANGE"}] if "range_key" in gsi else []),
            "Projection": {"ProjectionType": gsi["projection_type"]},
        }
        for gsi in resource.get("global_secondary_index", [])
    ]
    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": resource["billing_mode"],
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in resource["attribute"]
        ],
        "KeySchema": keys,
    }
    if indexes:
        request["GlobalSecondaryIndexes"] = indexes
    return request


@pytest.fixture
def store(table: dict[str, Any]) -> Iterator[DynamoDbStateStore]:
    with moto_env.fake_aws_env():
        from moto import mock_aws

        with mock_aws():
            client = moto_env.client("dynamodb")
            client.create_table(**create_table_request(table, "outreach"))
            yield DynamoDbStateStore(client, "outreach")


def test_the_adapter_works_on_the_table_terraform_defines(store: DynamoDbStateStore) -> None:
    def put(sort: str, data: dict[str, str], **extra: Any) -> Put:
        return Put(partition="T#t1", sort=sort, data=data, expected_version=0, **extra)

    store.write(put("JOB#1", {"status": "sent"}, index_key="MSG#abc", expires_at=99))
    store.write(put("JOB#2", {"status": "queued"}))
    with pytest.raises(ConditionFailed):
        store.write(put("JOB#1", {"status": "again"}))
    assert [item.sort for item in store.query("T#t1", "JOB#")] == ["JOB#1", "JOB#2"]
    found = store.find("MSG#abc")  # the GSI must project the whole item for this to round-trip
    assert [(item.sort, item.data, item.version, item.expires_at) for item in found] == [
        ("JOB#1", {"status": "sent"}, 1, 99)
    ]


def test_keys_index_and_ttl_are_the_adapters_names(table: dict[str, Any]) -> None:
    names = dynamodb_store._NAMES
    assert (table["hash_key"], table["range_key"]) == (names["#pk"], names["#sk"])
    assert [(g["name"], g["hash_key"], g["projection_type"]) for g in table["global_secondary_index"]] == [
        (dynamodb_store.INDEX_NAME, names["#ik"], "ALL")
    ]
    assert table["ttl"] == [{"attribute_name": names["#ttl"], "enabled": True}]
    assert {a["name"]: a["type"] for a in table["attribute"]} == {"pk": "S", "sk": "S", "ik": "S"}


def test_the_table_is_recoverable_and_encrypted(
    table: dict[str, Any], modules: dict[str, tfconfig.Config]
) -> None:
    assert table["billing_mode"] == "PAY_PER_REQUEST"
    assert table["point_in_time_recovery"] == [{"enabled": "${var.point_in_time_recovery}"}]
    variables = modules["state"].variables()
    assert variables["point_in_time_recovery"]["default"] is True
    assert variables["deletion_protection"]["default"] is True
    assert variables["encryption"]["default"] == "aws_owned"
    assert "server_side_encryption" in table
