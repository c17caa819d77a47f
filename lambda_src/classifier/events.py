"""From what SQS delivers to the object to classify.

An SQS message body is the EventBridge event S3 sent (`Object Created`); a bare EventBridge event
(a test invoke, or a rule targeting the function directly) is accepted too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventBridgeNotificationEvent


class MalformedEvent(ValueError):
    """Not an S3 Object Created event we can act on."""


@dataclass(frozen=True)
class UploadedObject:
    bucket: str
    key: str
    version_id: str | None
    size: int | None
    etag: str | None
    event_time: str | None


def from_eventbridge(event: dict[str, Any]) -> UploadedObject:
    wrapper = EventBridgeEvent(event)
    if wrapper.source != "aws.s3" or wrapper.detail_type != "Object Created":
        raise MalformedEvent(
            f"expected an aws.s3 'Object Created' event, got {wrapper.source!r} {wrapper.detail_type!r}"
        )
    s3_event = S3EventBridgeNotificationEvent(event)
    try:
        obj = s3_event.detail.object
        bucket = s3_event.detail.bucket.name
        key = obj.key
    except (KeyError, TypeError) as err:
        raise MalformedEvent(f"event lacks {err}") from None
    raw = obj.raw_event
    return UploadedObject(
        bucket=bucket,
        key=key,
        version_id=raw.get("version-id") or None,
        size=int(raw["size"]) if raw.get("size") is not None else None,
        etag=raw.get("etag"),
        event_time=wrapper.get("time"),
    )


def from_message_body(body: str) -> UploadedObject:
    try:
        event = json.loads(body)
    except json.JSONDecodeError as err:
        raise MalformedEvent(f"message body is not JSON: {err.msg}") from None
    if not isinstance(event, dict):
        raise MalformedEvent("message body is not a JSON object")
    return from_eventbridge(event)
