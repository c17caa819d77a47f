"""A world for the function's tests: moto S3 + DynamoDB in-process, a tiny real model, uploads."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from classifier.config import FunctionConfig
from classifier.core import ClassificationService
from classifier.model import Classifier
from classifier.store import PredictionStore
from components.predictions_table import create_table_request
from tests.conftest import load_event

REGION = "eu-west-1"
CLASSES = ("AAW", "ECLW", "FAW")


def create_table(client: Any, name: str) -> None:
    client.create_table(**create_table_request(name))


@dataclass
class World:
    """One bucket, one table, one service; helpers to upload and to read what was recorded."""

    classifier: Classifier
    bucket: str = "uploads-bucket"
    table: str = "predictions"
    config_overrides: dict[str, Any] = field(default_factory=dict)
    clock: Callable[[], datetime] = field(default=lambda: datetime(2026, 11, 25, 12, 0, tzinfo=UTC))

    def __post_init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        create_table(self.dynamodb, self.table)
        self.config = FunctionConfig(table_name=self.table, class_names=CLASSES, **self.config_overrides)
        self.store = PredictionStore(self.table, self.dynamodb, sleep=lambda _: None)
        self.service = self.make_service()

    def make_service(self, **changes: Any) -> ClassificationService:
        values: dict[str, Any] = {
            "config": self.config,
            "s3": self.s3,
            "store": self.store,
            "classifier": self.classifier,
            "region": REGION,
            "clock": lambda: self.clock(),
        }
        values.update(changes)
        return ClassificationService(**values)

    def upload(self, key: str, data: bytes) -> dict[str, Any]:
        """Put the object and return the EventBridge event S3 would send for it."""
        response = self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)
        return load_event(
            "eventbridge_object_created",
            bucket=self.bucket,
            key=key,
            size=len(data),
            etag=response["ETag"].strip('"'),
            version_id=response["VersionId"],
        )

    def records(self) -> list[dict[str, Any]]:
        """Every item in the table (tests may scan; the function never does)."""
        from boto3.dynamodb.types import TypeDeserializer

        items = self.dynamodb.scan(TableName=self.table, ConsistentRead=True)["Items"]
        plain = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]
        return [
            i for i in plain if i["ClassPredictionID"] != "CLAIM" and not i["ClassPredictionID"].startswith("COUNT#")
        ]

    def counters(self) -> dict[tuple[str, str], int]:
        from boto3.dynamodb.types import TypeDeserializer

        items = self.dynamodb.scan(TableName=self.table, ConsistentRead=True)["Items"]
        plain = [{k: TypeDeserializer().deserialize(v) for k, v in item.items()} for item in items]
        return {
            (i["PredictionDate"], i["ClassPredictionID"].removeprefix("COUNT#")): int(i["Count"])
            for i in plain
            if i["ClassPredictionID"].startswith("COUNT#")
        }


def sqs_batch(*events: dict[str, Any]) -> dict[str, Any]:
    """An SQS batch as the event source mapping delivers it, one EventBridge event per message."""
    template = json.loads((Path(__file__).parent / "events" / "sqs_object_created.json").read_text())["Records"][0]
    records = []
    for index, event in enumerate(events):
        record = dict(template)
        record["messageId"] = f"message-{index}"
        record["body"] = json.dumps(event)
        records.append(record)
    return {"Records": records}
