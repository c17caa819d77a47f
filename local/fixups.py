"""The one place the local cloud corrects moto's S3 -> EventBridge events to the shape AWS sends.

The handler is written for the real events. moto (5.x) differs in three ways, fixed here before a
message reaches the function:

- `detail.object.eTag` -> `detail.object.etag` (AWS spells it in lower case);
- `detail.reason` is "ObjectCreated" -> the API that created the object, "PutObject";
- every event carries the same `id` and `detail.object.sequencer` -> an id and a sequencer of
  its own per event, derived from the SQS message id so a redelivered message keeps them, as a
  redelivered AWS event does. Nothing keys on the id anyway.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

_MOTO_FIXED_ID = "17793124-05d4-b198-2fde-7ededc63b103"
_NAMESPACE = uuid.UUID("6f1b7c1e-3a52-4d1e-9a57-6c0de0c0ffee")


def fix_event(event: dict[str, Any], message_id: str) -> dict[str, Any]:
    if event.get("source") != "aws.s3":
        return event
    fixed: dict[str, Any] = json.loads(json.dumps(event))
    detail = fixed.get("detail", {})
    obj = detail.get("object", {})
    if "eTag" in obj:
        obj["etag"] = obj.pop("eTag")
    if detail.get("reason") == "ObjectCreated":
        detail["reason"] = "PutObject"
    if fixed.get("id") == _MOTO_FIXED_ID:
        identity = uuid.uuid5(_NAMESPACE, message_id)
        fixed["id"] = str(identity)
        obj["sequencer"] = identity.hex[:18].upper()
    return fixed


def fix_message_body(body: str, message_id: str) -> str:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        return body  # not ours to fix; the handler reports it
    return json.dumps(fix_event(event, message_id)) if isinstance(event, dict) else body
