"""StateStore on DynamoDB: one table, string keys `pk`/`sk`, a sparse GSI on `ik`, TTL on `expires_at`.

Item shape (see docs/adr/0100-dynamodb-key-design.md):

    pk          S  partition: `T#<tenant>` or `GLOBAL`
    sk          S  sort key (records.py owns the layout)
    data        S  the item's document as compact JSON (exact round trip of ints, floats and text)
    version     N  1 on create, +1 on every write: the compare-and-set token
    ik          S  optional index key (`MSG#<provider message id>`), GSI `by_index_key` (sparse)
    expires_at  N  optional epoch seconds; DynamoDB's TTL deletes the item some time after

A single conditional Put is a conditional PutItem (the new version is known: expected + 1); an
unconditional Put is an UpdateItem that increments the version atomically; several operations are one
TransactWriteItems. A lost condition becomes ConditionFailed naming the item whose condition failed.
`get_many` is BatchGetItem (strongly consistent, 100 keys a request, unprocessed keys asked again);
`write_many` packs whole groups into transactions of up to 100 items, and when one is cancelled, drops
the groups its cancellation reasons name and sends the rest again.
Expiry is retention, not meaning: an expired item still reads back until TTL removes it, exactly as
on the local store.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from outreach_core.ports import ConditionFailed, Delete, JsonDocument, Put, StoredItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef, TransactWriteItemTypeDef

IAM_ACTIONS = frozenset(
    {
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
)
INDEX_NAME = "by_index_key"
MAX_TRANSACTION_ITEMS = 100
MAX_BATCH_GET_KEYS = 100
_UNPROCESSED_ATTEMPTS = 8  # BatchGetItem hands back keys it could not read under throttling
_TOP = "\U0010ffff"  # sorts after every character: prefix + _TOP bounds a prefix range
_NAMES = {"#pk": "pk", "#sk": "sk", "#d": "data", "#v": "version", "#ik": "ik", "#ttl": "expires_at"}

Item = Mapping[str, "AttributeValueTypeDef"]


def _s(value: str) -> AttributeValueTypeDef:
    return {"S": value}


def _n(value: int) -> AttributeValueTypeDef:
    return {"N": str(value)}


def _key(partition: str, sort: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": _s(partition), "sk": _s(sort)}


def _item(raw: Item) -> StoredItem:
    return StoredItem(
        partition=raw["pk"]["S"],
        sort=raw["sk"]["S"],
        data=JsonDocument(raw["data"]["S"]),
        version=int(raw["version"]["N"]),
        index_key=raw["ik"]["S"] if "ik" in raw else None,
        expires_at=int(raw["expires_at"]["N"]) if "expires_at" in raw else None,
    )


def _json(data: Mapping[str, Any]) -> str:
    if isinstance(data, JsonDocument):
        return data.text
    return json.dumps(dict(data), ensure_ascii=False, separators=(",", ":"))


def _version_condition(expected: int) -> tuple[str, dict[str, AttributeValueTypeDef]]:
    if expected == 0:
        return "attribute_not_exists(#pk)", {}
    return "#v = :expected", {":expected": _n(expected)}


class DynamoDbStateStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self.client = client
        self.table_name = table_name

    # --- reads ---------------------------------------------------------------------------------

    def get(self, partition: str, sort: str) -> StoredItem | None:
        response = self.client.get_item(
            TableName=self.table_name, Key=_key(partition, sort), ConsistentRead=True
        )
        raw = response.get("Item")
        return _item(raw) if raw else None

    def get_many(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], StoredItem]:
        unique = list(dict.fromkeys(keys))
        found: dict[tuple[str, str], StoredItem] = {}
        for start in range(0, len(unique), MAX_BATCH_GET_KEYS):
            pending: list[Mapping[str, AttributeValueTypeDef]] = [
                _key(partition, sort) for partition, sort in unique[start : start + MAX_BATCH_GET_KEYS]
            ]
            for attempt in range(_UNPROCESSED_ATTEMPTS):
                response = self.client.batch_get_item(
                    RequestItems={self.table_name: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in response.get("Responses", {}).get(self.table_name, []):
                    item = _item(raw)
                    found[(item.partition, item.sort)] = item
                left = response.get("UnprocessedKeys", {}).get(self.table_name)
                if not left or not left.get("Keys"):
                    break
                pending = list(left["Keys"])
                time.sleep(min(1.0, 0.05 * 2**attempt))  # throttled: back off before asking again
            else:
                raise RuntimeError(f"BatchGetItem left {len(pending)} keys unread after retries")
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
        low = max(prefix, after) if after is not None else prefix
        if low > high or limit == 0:
            return []
        values: dict[str, AttributeValueTypeDef] = {":p": _s(partition)}
        if low:
            condition = "#pk = :p AND #sk BETWEEN :low AND :high"
            values.update({":low": _s(low), ":high": _s(high)})
        else:  # an empty prefix: DynamoDB refuses empty key values, and every sort key is >= ""
            condition = "#pk = :p AND #sk <= :high"
            values[":high"] = _s(high)
        found: list[StoredItem] = []
        start: dict[str, AttributeValueTypeDef] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "KeyConditionExpression": condition,
                "ExpressionAttributeNames": {"#pk": "pk", "#sk": "sk"},
                "ExpressionAttributeValues": values,
                "ConsistentRead": True,
            }
            if limit is not None:
                kwargs["Limit"] = limit - len(found) + (1 if after is not None else 0)
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            response = self.client.query(**kwargs)
            for raw in response.get("Items", []):
                if after is not None and raw["sk"]["S"] <= after:
                    continue  # BETWEEN is inclusive; `after` is not
                found.append(_item(raw))
                if limit is not None and len(found) >= limit:
                    return found
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            start = dict(last)

    def find(self, index_key: str) -> list[StoredItem]:
        found: list[StoredItem] = []
        start: dict[str, AttributeValueTypeDef] | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.table_name,
                "IndexName": INDEX_NAME,
                "KeyConditionExpression": "#ik = :ik",
                "ExpressionAttributeNames": {"#ik": "ik"},
                "ExpressionAttributeValues": {":ik": _s(index_key)},
            }
            if start is not None:
                kwargs["ExclusiveStartKey"] = start
            response = self.client.query(**kwargs)
            found.extend(_item(raw) for raw in response.get("Items", []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return found
            start = dict(last)

    # --- writes --------------------------------------------------------------------------------

    def write(self, *operations: Put | Delete) -> None:
        keys = [(op.partition, op.sort) for op in operations]
        if len(set(keys)) != len(keys):
            raise ValueError("one write may touch each item once")
        if len(operations) > MAX_TRANSACTION_ITEMS:
            raise ValueError(f"one write may touch at most {MAX_TRANSACTION_ITEMS} items")
        if not operations:
            return
        if len(operations) == 1:
            self._single(operations[0])
        else:
            self._transaction(operations)

    def write_many(self, groups: Sequence[Sequence[Put | Delete]]) -> list[ConditionFailed | None]:
        results: list[ConditionFailed | None] = [None] * len(groups)
        batch: list[int] = []
        taken: set[tuple[str, str]] = set()  # a transaction names each item once
        for index, group in enumerate(groups):
            keys = [(op.partition, op.sort) for op in group]
            if len(set(keys)) != len(keys):
                raise ValueError("one write may touch each item once")
            if len(group) > MAX_TRANSACTION_ITEMS:
                raise ValueError(f"one write may touch at most {MAX_TRANSACTION_ITEMS} items")
            if len(taken) + len(group) > MAX_TRANSACTION_ITEMS or not taken.isdisjoint(keys):
                self._write_groups(groups, batch, results)
                batch, taken = [], set()
            batch.append(index)
            taken.update(keys)
        self._write_groups(groups, batch, results)
        return results

    def _write_groups(
        self,
        groups: Sequence[Sequence[Put | Delete]],
        batch: list[int],
        results: list[ConditionFailed | None],
    ) -> None:
        """One transaction for the batch's groups; a cancelled one is sent again without the groups
        whose items it names as failed, until it goes through or no group is left."""
        pending = list(batch)
        while pending:
            operations = [op for index in pending for op in groups[index]]
            if not operations:
                return
            if len(operations) == 1:
                try:
                    self._single(operations[0])
                except ConditionFailed as exc:
                    results[pending[0]] = exc
                return
            try:
                self.client.transact_write_items(
                    TransactItems=[self._request(op) for op in operations]  # type: ignore[misc]
                )
                return
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                    raise
                error = exc
            reasons: list[Mapping[str, Any]] = error.response.get("CancellationReasons", [])  # type: ignore[assignment]
            failed: list[int] = []
            position = 0
            for index in pending:
                for op in groups[index]:
                    code = reasons[position].get("Code") if position < len(reasons) else None
                    position += 1
                    if code in ("ConditionalCheckFailed", "TransactionConflict") and results[index] is None:
                        results[index] = ConditionFailed(op.partition, op.sort)
                        failed.append(index)
                    elif code not in (None, "None", "ConditionalCheckFailed", "TransactionConflict"):
                        raise error
            if not failed:
                raise error  # cancelled for a reason that names no item: not ours to guess
            pending = [index for index in pending if index not in failed]

    def _single(self, op: Put | Delete) -> None:
        request = self._request(op)
        kind, params = next(iter(request.items()))
        try:
            if kind == "Put":
                self.client.put_item(**params)
            elif kind == "Update":
                self.client.update_item(**params)
            else:
                self.client.delete_item(**params)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                raise ConditionFailed(op.partition, op.sort) from None
            raise

    def _transaction(self, operations: Sequence[Put | Delete]) -> None:
        items: list[TransactWriteItemTypeDef] = [self._request(op) for op in operations]  # type: ignore[misc]
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons: list[Mapping[str, Any]] = exc.response.get("CancellationReasons", [])  # type: ignore[assignment]
            for op, reason in zip(operations, reasons, strict=False):
                # A concurrent transaction on the item is contention too: the caller re-reads and retries.
                if reason.get("Code") in ("ConditionalCheckFailed", "TransactionConflict"):
                    raise ConditionFailed(op.partition, op.sort) from None
            raise

    def _request(self, op: Put | Delete) -> dict[str, dict[str, Any]]:
        """The operation as one TransactWriteItems entry ({"Put"|"Update"|"Delete": params}), which
        is also the keyword arguments of the single-item call."""
        if isinstance(op, Delete):
            params: dict[str, Any] = {"TableName": self.table_name, "Key": _key(op.partition, op.sort)}
            if op.expected_version is not None:
                condition, values = _version_condition(op.expected_version)
                params["ConditionExpression"] = condition
                params["ExpressionAttributeNames"] = {k: _NAMES[k] for k in ("#pk", "#v") if k in condition}
                if values:
                    params["ExpressionAttributeValues"] = values
            return {"Delete": params}
        if op.expected_version is not None:
            item: dict[str, AttributeValueTypeDef] = {
                **_key(op.partition, op.sort),
                "data": _s(_json(op.data)),
                "version": _n(op.expected_version + 1),
            }
            if op.index_key is not None:
                item["ik"] = _s(op.index_key)
            if op.expires_at is not None:
                item["expires_at"] = _n(op.expires_at)
            condition, values = _version_condition(op.expected_version)
            put: dict[str, Any] = {
                "TableName": self.table_name,
                "Item": item,
                "ConditionExpression": condition,
                "ExpressionAttributeNames": {k: _NAMES[k] for k in ("#pk", "#v") if k in condition},
            }
            if values:
                put["ExpressionAttributeValues"] = values
            return {"Put": put}
        # Unconditional: replace every attribute and bump the version in one atomic update.
        sets = ["#d = :d", "#v = if_not_exists(#v, :zero) + :one"]
        removes: list[str] = []
        values = {":d": _s(_json(op.data)), ":zero": _n(0), ":one": _n(1)}
        if op.index_key is not None:
            sets.append("#ik = :ik")
            values[":ik"] = _s(op.index_key)
        else:
            removes.append("#ik")
        if op.expires_at is not None:
            sets.append("#ttl = :ttl")
            values[":ttl"] = _n(op.expires_at)
        else:
            removes.append("#ttl")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": _key(op.partition, op.sort),
                "UpdateExpression": expression,
                "ExpressionAttributeNames": {k: _NAMES[k] for k in ("#d", "#v", "#ik", "#ttl")},
                "ExpressionAttributeValues": values,
            }
        }
