"""Reading predictions and daily counts back, by the table's keys (Query, never Scan)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from classifier.keys import COUNT_PREFIX, claim_key

_deserialize = TypeDeserializer().deserialize


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserialize(v) for k, v in item.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Results:
    dynamodb: Any
    table: str

    def _query(self, date: str, prefix: str | None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PredictionDate = :date",
            "ExpressionAttributeValues": {":date": {"S": date}},
        }
        if prefix:
            params["KeyConditionExpression"] += " AND begins_with(ClassPredictionID, :prefix)"
            params["ExpressionAttributeValues"][":prefix"] = {"S": prefix}
        while True:
            page = self.dynamodb.query(**params)
            for item in page.get("Items", []):
                yield _jsonable(_plain(item))
            if "LastEvaluatedKey" not in page:
                return
            params["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def predictions(self, date: str, class_name: str | None = None) -> list[dict[str, Any]]:
        """The day's records (classified and rejected), optionally of one class."""
        items = self._query(date, f"{class_name}#" if class_name else None)
        return [i for i in items if not i["ClassPredictionID"].startswith(COUNT_PREFIX)]

    def counts(self, date: str) -> dict[str, int]:
        counters = self._query(date, COUNT_PREFIX)
        return {i["ClassPredictionID"].removeprefix(COUNT_PREFIX): int(i["Count"]) for i in counters}

    def claim(self, digest: str) -> dict[str, Any] | None:
        response = self.dynamodb.get_item(
            TableName=self.table,
            Key={name: {"S": value} for name, value in claim_key(digest).items()},
            ConsistentRead=True,
        )
        return _jsonable(_plain(response["Item"])) if "Item" in response else None
