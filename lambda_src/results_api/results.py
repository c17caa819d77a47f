"""What the API's routes do, without HTTP: presign uploads, list, read and delete predictions, count.

Every read uses the table's keys (GetItem, or Query on one day's partition); nothing scans. A
prediction's public id is its object digest: the claim item (`OBJECT#<id>`) says where the
record lives, so reading one prediction is two GetItems and needs no index.
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from classifier.keys import (
    COUNT_PREFIX,
    DELETED,
    DIGEST,
    REJECTED,
    claim_key,
    counter_key,
    counter_of,
)
from results_api.config import EXTENSIONS, ApiConfig

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_PAGE = 100
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize
_TOKENS = uuid.UUID("5b0e7f8a-3c61-4d2e-8f4a-9d7c2b1e6a53")


class BadInput(ValueError):
    """The request asked for something malformed (HTTP 400); the message names the parameter."""


class NotFound(LookupError):
    """No such prediction (HTTP 404)."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_token: str | None


class ResultsService:
    def __init__(
        self,
        config: ApiConfig,
        dynamodb: DynamoDBClient,
        s3: S3Client,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        max_attempts: int = 10,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self._dynamodb = dynamodb
        self._s3 = s3
        self._clock = clock
        self._new_id = new_id
        self._zone = ZoneInfo(config.timezone)
        self._max_attempts = max_attempts
        self._sleep = sleep

    # -- checks ----------------------------------------------------------------------------
    def today(self) -> str:
        """Today in the stack's time zone: the day the function files new predictions under."""
        return self._clock().astimezone(self._zone).date().isoformat()

    def check_date(self, value: str | None) -> str:
        if value is None:
            return self.today()
        if not DATE.match(value):
            raise BadInput(f"date: expected YYYY-MM-DD, got {value!r}")
        try:
            date.fromisoformat(value)
        except ValueError:
            raise BadInput(f"date: {value!r} is not a calendar date") from None
        return value

    def check_class(self, value: str | None) -> str | None:
        if value is None or value in self.config.class_names or value == REJECTED:
            return value
        allowed = ", ".join((*self.config.class_names, REJECTED))
        raise BadInput(f"class: must be one of {allowed}; got {value!r}")

    @staticmethod
    def check_id(value: str) -> str:
        if not DIGEST.match(value):
            raise BadInput(f"id: a prediction id is 32 lowercase hex digits, got {value!r}")
        return value

    # -- uploads ---------------------------------------------------------------------------
    def presign_upload(self, content_type: str) -> dict[str, Any]:
        """A presigned POST for a fresh key under the upload prefix. The signed policy pins the
        key, the Content-Type and the size range: S3 refuses any other upload with it."""
        if content_type not in self.config.content_types:
            raise BadInput(f"content_type: must be one of {', '.join(self.config.content_types)}; got {content_type!r}")
        key = f"{self.config.upload_prefix}{self.today()}/{self._new_id()}{EXTENSIONS[content_type]}"
        post = self._s3.generate_presigned_post(
            Bucket=self.config.bucket_name,
            Key=key,
            Fields={"Content-Type": content_type},
            Conditions=[{"Content-Type": content_type}, ["content-length-range", 1, self.config.max_upload_bytes]],
            ExpiresIn=self.config.url_ttl_seconds,
        )
        return {
            "key": key,
            "url": post["url"],
            "fields": post["fields"],
            "content_type": content_type,
            "max_bytes": self.config.max_upload_bytes,
            "expires_in": self.config.url_ttl_seconds,
        }

    # -- predictions -----------------------------------------------------------------------
    def list_predictions(
        self, day: str, class_name: str | None = None, limit: int = 25, next_token: str | None = None
    ) -> Page:
        request: dict[str, Any] = {
            "TableName": self.config.table_name,
            "ExpressionAttributeNames": {"#date": "PredictionDate"},
            "ExpressionAttributeValues": {":date": _serialize(day)},
            "Limit": max(1, min(limit, MAX_PAGE)),
        }
        if class_name is not None:
            request["KeyConditionExpression"] = "#date = :date AND begins_with(#sort, :class)"
            request["ExpressionAttributeNames"]["#sort"] = "ClassPredictionID"
            request["ExpressionAttributeValues"][":class"] = _serialize(f"{class_name}#")
        else:
            # The day's partition also holds its counters; they have no Status. A page may hold
            # fewer than `limit` predictions then: follow `next` until it is absent.
            request["KeyConditionExpression"] = "#date = :date"
            request["FilterExpression"] = "attribute_exists(#status)"
            request["ExpressionAttributeNames"]["#status"] = "Status"
        if next_token is not None:
            request["ExclusiveStartKey"] = _decode_token(next_token, day, class_name)
        response = self._dynamodb.query(**request)
        items = [self.present(_plain(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return Page(items, _encode_token(_plain(last)) if last else None)

    def get_prediction(self, digest: str) -> dict[str, Any]:
        claim = self._claim(self.check_id(digest))
        record = self._get({"PredictionDate": claim["RecordDate"], "ClassPredictionID": claim["RecordId"]})
        if record is None:
            raise NotFound(f"no prediction {digest}")
        return self.present(record)

    def delete_prediction(self, digest: str) -> None:
        """Delete the record and take it off its day's count, in one transaction; the claim stays,
        marked DELETED, so a late redelivery of the upload's event does not record it again."""
        self.check_id(digest)
        for attempt in range(self._max_attempts):
            claim = self._claim(digest)
            record_id = claim["RecordId"]
            try:
                self._dynamodb.transact_write_items(
                    TransactItems=self._deletion(digest, claim, record_id),
                    # Idempotent for 10 minutes: if the SDK resends a committed call whose
                    # response was lost, DynamoDB answers success instead of cancelling it.
                    ClientRequestToken=str(uuid.uuid5(_TOKENS, f"delete:{digest}:{record_id}")),
                )
                return
            except ClientError as err:
                if err.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                codes = [r.get("Code") or "None" for r in err.response.get("CancellationReasons", [])]
                if codes == ["None", "ConditionalCheckFailed", "None"]:
                    raise RuntimeError(
                        f"counter for {claim['RecordDate']}/{counter_of(record_id)} is already 0 "
                        f"while {digest} is recorded: the table needs a look"
                    ) from err
                if not set(codes) <= {"None", "ConditionalCheckFailed", "TransactionConflict"}:
                    raise
                # Deleted meanwhile (the next read says 404), or the counter was busy: read, retry.
                self._sleep(min(0.2, 0.01 * 2**attempt) * random.random())  # noqa: S311 - jitter
        raise RuntimeError(f"deleting {digest} stayed contended for {self._max_attempts} attempts")

    def _deletion(self, digest: str, claim: dict[str, Any], record_id: str) -> list[Any]:
        table = self.config.table_name
        day = claim["RecordDate"]
        return [
            {
                "Delete": {
                    "TableName": table,
                    "Key": _item({"PredictionDate": day, "ClassPredictionID": record_id}),
                    "ConditionExpression": "attribute_exists(PredictionDate)",
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": _item(counter_key(day, counter_of(record_id))),
                    "UpdateExpression": "SET #count = #count - :one",
                    "ConditionExpression": "#count >= :one",
                    "ExpressionAttributeNames": {"#count": "Count"},
                    "ExpressionAttributeValues": {":one": _serialize(1)},
                }
            },
            {
                "Update": {
                    "TableName": table,
                    "Key": _item(claim_key(digest)),
                    "UpdateExpression": "SET #status = :deleted, DeletedAt = :now",
                    "ConditionExpression": "#status = :was",
                    "ExpressionAttributeNames": {"#status": "Status"},
                    "ExpressionAttributeValues": _item(
                        {
                            ":deleted": DELETED,
                            ":was": claim["Status"],
                            ":now": self._clock().isoformat(timespec="seconds"),
                        }
                    ),
                }
            },
        ]

    # -- counts ----------------------------------------------------------------------------
    def counts(self, day: str) -> dict[str, Any]:
        counts = dict.fromkeys(self.config.class_names, 0)
        rejected = 0
        request: dict[str, Any] = {
            "TableName": self.config.table_name,
            "KeyConditionExpression": "#date = :date AND begins_with(#sort, :counter)",
            "ExpressionAttributeNames": {"#date": "PredictionDate", "#sort": "ClassPredictionID"},
            "ExpressionAttributeValues": {":date": _serialize(day), ":counter": _serialize(COUNT_PREFIX)},
            "ConsistentRead": True,
        }
        while True:
            response = self._dynamodb.query(**request)
            for item in map(_plain, response.get("Items", [])):
                counter = item["ClassPredictionID"].removeprefix(COUNT_PREFIX)
                if counter == REJECTED:
                    rejected = int(item["Count"])
                else:  # a class no longer configured still shows what was counted under it
                    counts[counter] = int(item["Count"])
            if "LastEvaluatedKey" not in response:
                break
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return {"date": day, "counts": counts, "total": sum(counts.values()), "rejected": rejected}

    # -- presentation ----------------------------------------------------------------------
    def present(self, record: dict[str, Any]) -> dict[str, Any]:
        """A record as the API shows it, with a short-lived URL for its image."""
        classified = record.get("Status") != REJECTED
        return {
            "id": record["PredictionId"],
            "date": record["PredictionDate"],
            "status": record["Status"],
            "class_name": record.get("ClassName"),
            "confidence": _number(record.get("Confidence")),
            "confidence_score": record.get("ConfidenceScore"),
            "probabilities": {k: float(v) for k, v in (record.get("Probabilities") or {}).items()},
            "count": int(record["Count_ClassName"] if classified else record["Count_Rejected"]),
            "reason": record.get("Reason"),
            "reason_detail": record.get("ReasonDetail"),
            "capture_time": record.get("CaptureTime"),
            "upload_time": record.get("UploadTime"),
            "object_key": record["ObjectKey"],
            "version_id": record.get("VersionId"),
            "model_version": record.get("ModelVersion"),
            "image_url": self._image_url(record),
            "image_url_expires_in": self.config.url_ttl_seconds,
        }

    def _image_url(self, record: dict[str, Any]) -> str:
        params = {"Bucket": record.get("Bucket") or self.config.bucket_name, "Key": record["ObjectKey"]}
        if record.get("VersionId") not in (None, "null"):
            params["VersionId"] = record["VersionId"]  # the very version that was classified
        return self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=self.config.url_ttl_seconds)

    # -- table -----------------------------------------------------------------------------
    def _claim(self, digest: str) -> dict[str, Any]:
        claim = self._get(claim_key(digest))
        if claim is None or claim.get("Status") == DELETED:
            raise NotFound(f"no prediction {digest}")
        return claim

    def _get(self, key: dict[str, str]) -> dict[str, Any] | None:
        response = self._dynamodb.get_item(TableName=self.config.table_name, Key=_item(key), ConsistentRead=True)
        return _plain(response["Item"]) if "Item" in response else None


def _item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serialize(v) for k, v in values.items()}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserialize(v) for k, v in item.items()}


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


# -- pagination tokens: the last key seen, opaque to clients, checked on the way back ------------
def _encode_token(key: dict[str, Any]) -> str:
    raw = json.dumps({"d": key["PredictionDate"], "s": key["ClassPredictionID"]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_token(token: str, day: str, class_name: str | None) -> dict[str, Any]:
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        date, sort_key = decoded["d"], decoded["s"]
        # DynamoDB keys are UTF-8, at most 1024 bytes: a lone surrogate (valid JSON) cannot be one.
        size = len(sort_key.encode("utf-8"))
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError):
        raise BadInput("next: not a token this API issued") from None
    if not 0 < size <= 1024:
        raise BadInput("next: not a token this API issued")
    if date != day or (class_name is not None and not sort_key.startswith(f"{class_name}#")):
        raise BadInput("next: the token belongs to another query (date or class differ)")
    return _item({"PredictionDate": day, "ClassPredictionID": sort_key})
