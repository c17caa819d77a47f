"""The core: fetch -> decode -> classify -> record, for a batch of uploaded objects.

It knows nothing of SQS, EventBridge or Lambda: it takes objects and returns one outcome per
object. Clients, model and clock are passed in, so tests and the local cloud inject their own.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus
from zoneinfo import ZoneInfo

import numpy as np
from botocore.exceptions import BotoCoreError, ClientError

from classifier.config import FunctionConfig
from classifier.errors import Reason, RejectedUpload, TransientFailure
from classifier.events import UploadedObject
from classifier.imaging import decode
from classifier.model import INPUT_SHAPE, Classifier
from classifier.records import CLASSIFIED, REJECTED, Verdict, build_record, object_digest
from classifier.store import PredictionStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MISSING = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}
S3_RETRYABLE = {
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "503",
    "500",
    "ThrottlingException",
}
DUPLICATE = "DUPLICATE"


@dataclass
class Outcome:
    """What became of one object: recorded now, recorded before, or a failure to retry."""

    obj: UploadedObject
    status: str  # CLASSIFIED | REJECTED | DUPLICATE | FAILED
    record: dict[str, Any] | None = None
    reason: str | None = None
    error: Exception | None = None
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass
class _Work:
    obj: UploadedObject
    digest: str
    started: float
    pixels: np.ndarray | None = None
    verdict: Verdict | None = None
    outcome: Outcome | None = None


@dataclass
class ClassificationService:
    config: FunctionConfig
    s3: S3Client
    store: PredictionStore
    classifier: Classifier
    region: str
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def __post_init__(self) -> None:
        self._zone = ZoneInfo(self.config.timezone)

    def process(self, objects: Sequence[UploadedObject]) -> list[Outcome]:
        work = [_Work(obj, object_digest(obj), time.perf_counter()) for obj in objects]
        for item in work:
            self._guarded(item, self._prepare)
        self._classify([w for w in work if w.pixels is not None])
        for item in work:
            if item.outcome is None:
                self._guarded(item, self._record)
        return [w.outcome or Outcome(w.obj, "FAILED", error=RuntimeError("not processed")) for w in work]

    # -- steps -----------------------------------------------------------------------------
    def _prepare(self, item: _Work) -> None:
        existing = self.store.recorded(item.digest)
        if existing is not None:
            item.outcome = Outcome(item.obj, DUPLICATE, record=existing, seconds=self._elapsed(item))
            return
        try:
            data, key = self._fetch(item.obj)
            if key != item.obj.key:  # the event carried the key URL-encoded; keep the real one
                item.obj = replace(item.obj, key=key)
            item.pixels = decode(data, size=INPUT_SHAPE[:2], allowed_formats=self.config.image_formats)
        except RejectedUpload as rejected:
            item.verdict = Verdict(REJECTED, REJECTED, reason=rejected.reason.value, detail=rejected.detail)

    def _classify(self, batch: list[_Work]) -> None:
        if not batch:
            return
        try:
            probabilities = self.classifier.predict(np.stack([w.pixels for w in batch if w.pixels is not None]))
        except Exception as err:  # the model failed the whole batch: retry each message
            for item in batch:
                item.outcome = Outcome(item.obj, "FAILED", error=err, seconds=self._elapsed(item))
            return
        classes = self.classifier.metadata.classes
        for item, row in zip(batch, probabilities, strict=True):
            best = int(np.argmax(row))
            item.verdict = Verdict(
                CLASSIFIED,
                classes[best],
                confidence=float(row[best]),
                probabilities={name: float(p) for name, p in zip(classes, row, strict=True)},
            )
            item.pixels = None

    def _record(self, item: _Work) -> None:
        verdict = item.verdict
        if verdict is None:
            return
        # The date and time of *this* image, in the configured zone: never frozen at import.
        when = self.clock().astimezone(self._zone)
        date = when.date().isoformat()

        def build(count: int) -> dict[str, Any]:
            return build_record(
                item.obj,
                verdict,
                when=when,
                count=count,
                region=self.region,
                model_version=self.classifier.metadata.version,
            )

        stored = self.store.record(item.digest, date, verdict.class_name, build)
        status = DUPLICATE if stored.duplicate else verdict.status
        item.outcome = Outcome(item.obj, status, stored.record, verdict.reason, seconds=self._elapsed(item))

    # -- S3 --------------------------------------------------------------------------------
    def _fetch(self, obj: UploadedObject) -> tuple[bytes, str]:
        limit = self.config.max_image_bytes
        if obj.size is not None:
            # Decided from the event, before any download.
            if obj.size == 0:
                raise RejectedUpload(Reason.EMPTY, "the object has zero bytes")
            if obj.size > limit:
                raise RejectedUpload(Reason.TOO_LARGE, f"{obj.size} bytes is over the {limit}-byte limit")
        response, key = self._get_object(obj, obj.key)
        length = int(response.get("ContentLength", 0))
        if length > limit:
            response["Body"].close()
            raise RejectedUpload(Reason.TOO_LARGE, f"{length} bytes is over the {limit}-byte limit")
        data: bytes = response["Body"].read(limit + 1)
        if len(data) > limit:
            raise RejectedUpload(Reason.TOO_LARGE, f"more than {limit} bytes")
        return data, key

    def _get_object(self, obj: UploadedObject, key: str) -> tuple[Any, str]:
        params: dict[str, Any] = {"Bucket": obj.bucket, "Key": key}
        if obj.version_id:  # "null" too: the version an object got before versioning was on
            params["VersionId"] = obj.version_id
        try:
            return self.s3.get_object(**params), key
        except ClientError as err:
            code = err.response["Error"]["Code"]
            if code in MISSING:
                # Keys in S3 notifications can arrive URL-encoded ("red+flower.jpg"): try the
                # decoded key once before calling the object missing.
                decoded = unquote_plus(key)
                if decoded != key:
                    return self._get_object(obj, decoded)
                what = f"version {obj.version_id}" if obj.version_id else "object"
                raise RejectedUpload(
                    Reason.OBJECT_MISSING, f"{what} of s3://{obj.bucket}/{obj.key} is gone ({code})"
                ) from None
            if code in S3_RETRYABLE:
                raise TransientFailure(f"S3 GetObject: {code}") from err
            raise
        except BotoCoreError as err:
            raise TransientFailure(f"S3 GetObject: {err}") from err

    # -- helpers ---------------------------------------------------------------------------
    def _guarded(self, item: _Work, step: Callable[[_Work], None]) -> None:
        """Run one step for one object; its failure fails that object alone."""
        try:
            step(item)
        except Exception as err:
            item.outcome = Outcome(item.obj, "FAILED", error=err, seconds=self._elapsed(item))

    @staticmethod
    def _elapsed(item: _Work) -> float:
        return time.perf_counter() - item.started
