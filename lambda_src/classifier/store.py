"""Exactly-once recording in DynamoDB, constant work per image, no Scan.

One transaction writes, all or nothing: the object version's claim (only if absent), the day's
counter for its class (only if it still holds the value just read), and the record carrying the
new count. So a version counts once however often or concurrently its event arrives, a crash can
never leave a count without its record, and N images of a class on a day get counts 1..N.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from classifier.errors import TransientFailure
from classifier.keys import claim_key, counter_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_serialize = TypeSerializer().serialize
_TOKENS = uuid.UUID("0c4b7a52-2d0e-4f5b-9a61-3e1f6e2b9d47")
_deserialize = TypeDeserializer().deserialize

# Why a transaction can be cancelled and still be worth another read-and-try.
CONTENDED = {"None", "ConditionalCheckFailed", "TransactionConflict", "ThrottlingError"}

# Errors DynamoDB expects callers to retry; botocore has already retried them a few times.
RETRYABLE = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionInProgressException",
}


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserialize(v) for k, v in item.items()}


@dataclass(frozen=True)
class Stored:
    record: dict[str, Any]
    duplicate: bool
    """True when the version had been recorded before: nothing was written this time."""


class PredictionStore:
    def __init__(
        self,
        table_name: str,
        client: DynamoDBClient,
        *,
        max_attempts: int = 50,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.table_name = table_name
        self._client = client
        self._max_attempts = max_attempts
        self._sleep = sleep

    def recorded(self, digest: str) -> dict[str, Any] | None:
        """The record an object version already has, if any (one consistent GetItem, two on a hit)."""
        claim = self._get(claim_key(digest))
        if claim is None:
            return None
        return self._get({"PredictionDate": claim["RecordDate"], "ClassPredictionID": claim["RecordId"]}) or claim

    def record(self, digest: str, date: str, counter: str, build: Callable[[int], dict[str, Any]]) -> Stored:
        """Write `build(count)` for the version, where count is the day's new value of `counter`."""
        for attempt in range(self._max_attempts):
            current = self._count(date, counter)
            record = build(current + 1)
            try:
                self._call(
                    "transact_write_items",
                    TransactItems=self._transaction(digest, date, counter, current, record),
                    # Idempotent for 10 minutes: if a committed call's response is lost and the SDK
                    # sends the very same call again, DynamoDB answers success instead of cancelling.
                    ClientRequestToken=str(uuid.uuid5(_TOKENS, f"{digest}:{current}:{record['CaptureTime']}")),
                )
                return Stored(record, duplicate=False)
            except ClientError as err:
                if err.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") or "None" for r in err.response.get("CancellationReasons", [])]
                if codes[:1] == ["ConditionalCheckFailed"]:
                    existing = self.recorded(digest)
                    return Stored(existing or record, duplicate=True)
                if not set(codes) <= CONTENDED or codes[2:3] == ["ConditionalCheckFailed"]:
                    # A validation or size problem, or a record without its claim: retrying the same
                    # transaction cannot help; fail the message (it ends in the DLQ for a look).
                    raise
                # Another image of this class and day took the next count first, or a concurrent
                # transaction touched the counter: read again and retry, with jittered backoff.
                self._sleep(min(0.5, 0.01 * 2 ** min(attempt, 6)) * random.random())  # noqa: S311 - jitter
        raise TransientFailure(f"counter {date}/{counter} stayed contended for {self._max_attempts} attempts")

    def _transaction(self, digest: str, date: str, counter: str, current: int, record: dict[str, Any]) -> list[Any]:
        claim = {
            **claim_key(digest),
            "RecordDate": record["PredictionDate"],
            "RecordId": record["ClassPredictionID"],
            "Status": record["Status"],
            "Bucket": record["Bucket"],
            "ObjectKey": record["ObjectKey"],
            "VersionId": record["VersionId"],
        }
        if current == 0:
            # No counter yet, or one the results API brought back to 0 by deleting predictions.
            counter_condition = "attribute_not_exists(#count) OR #count = :current"
            counter_values = {":next": _serialize(1), ":current": _serialize(0)}
        else:
            counter_condition = "#count = :current"
            counter_values = {":next": _serialize(current + 1), ":current": _serialize(current)}
        return [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _item(claim),
                    "ConditionExpression": "attribute_not_exists(PredictionDate)",
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _item(counter_key(date, counter)),
                    "UpdateExpression": "SET #count = :next",
                    "ConditionExpression": counter_condition,
                    "ExpressionAttributeNames": {"#count": "Count"},
                    "ExpressionAttributeValues": counter_values,
                }
            },
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _item(record),
                    "ConditionExpression": "attribute_not_exists(PredictionDate)",
                }
            },
        ]

    def _count(self, date: str, counter: str) -> int:
        item = self._get(counter_key(date, counter))
        return int(item["Count"]) if item else 0

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._call("get_item", TableName=self.table_name, Key=_item(key), ConsistentRead=True)
        return _plain(response["Item"]) if "Item" in response else None

    def _call(self, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, operation)(**kwargs)
        except ClientError as err:
            status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if err.response["Error"]["Code"] in RETRYABLE or status >= 500:
                raise TransientFailure(f"DynamoDB {operation}: {err.response['Error']['Code']}") from err
            raise
        except BotoCoreError as err:  # timeouts, connection resets
            raise TransientFailure(f"DynamoDB {operation}: {err}") from err
