"""What one object version leaves in the table: its record, keyed by the original schema.

The key layout (predictions, rejections, counters, claims) is in `classifier.keys`. The digest
names the object version (bucket, key, version id), so its record id never changes however often
its event is delivered. The claim is what makes it count once across days.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from classifier.events import UploadedObject
from classifier.keys import CLASSIFIED, REJECTED, claim_key, counter_key

__all__ = ["CLASSIFIED", "REJECTED", "Verdict", "build_record", "claim_key", "counter_key", "object_digest"]


def object_digest(obj: UploadedObject) -> str:
    identity = f"{obj.bucket}\0{obj.key}\0{obj.version_id or 'null'}"
    return hashlib.sha256(identity.encode()).hexdigest()[:32]


def image_url(obj: UploadedObject, region: str) -> str:
    """The object version's HTTPS URL. The bucket is private: this names the image, a presigned
    URL (the API's job) is what shows it."""
    url = f"https://{obj.bucket}.s3.{region}.amazonaws.com/{quote(obj.key, safe='/')}"
    return f"{url}?versionId={quote(obj.version_id, safe='')}" if obj.version_id else url


def confidence_score(confidence: float) -> str:
    """The original string form: 0.934 -> "93%"."""
    return f"{round(confidence * 100)}%"


def _number(value: float) -> Decimal:
    # DynamoDB numbers: Decimal, rounded so float noise does not bloat items.
    return Decimal(str(round(float(value), 6)))


@dataclass(frozen=True)
class Verdict:
    """What was decided about one object, before it gets its count."""

    status: str  # CLASSIFIED | REJECTED
    class_name: str  # the predicted class, or REJECTED
    confidence: float = 0.0
    probabilities: dict[str, float] | None = None
    reason: str | None = None
    detail: str | None = None


def build_record(
    obj: UploadedObject,
    verdict: Verdict,
    *,
    when: datetime,
    count: int,
    region: str,
    model_version: str,
) -> dict[str, Any]:
    digest = object_digest(obj)
    url = image_url(obj, region)
    record: dict[str, Any] = {
        "PredictionDate": when.date().isoformat(),
        "ClassPredictionID": f"{verdict.class_name}#{digest}",
        "PredictionId": digest,
        "Status": verdict.status,
        "CaptureTime": when.isoformat(timespec="seconds"),
        "Bucket": obj.bucket,
        "ObjectKey": obj.key,
        "VersionId": obj.version_id or "null",
        "ImageURL": url,
        "ModelVersion": model_version,
    }
    if obj.event_time:
        record["UploadTime"] = obj.event_time
    if verdict.status == CLASSIFIED:
        record.update(
            {
                "ClassName": verdict.class_name,
                "Count_ClassName": count,
                "ImageURL_ClassName": url,
                "ConfidenceScore": confidence_score(verdict.confidence),
                "Confidence": _number(verdict.confidence),
                "Probabilities": {k: _number(v) for k, v in (verdict.probabilities or {}).items()},
            }
        )
    else:
        record.update({"Reason": verdict.reason, "ReasonDetail": (verdict.detail or "")[:500], "Count_Rejected": count})
    return record
