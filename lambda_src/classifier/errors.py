"""The two ways an upload can fail, and the permanent reasons recorded for rejected uploads."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """Why an upload was recorded REJECTED. Stable strings: they land in the table and metrics."""

    EMPTY = "empty-object"
    TOO_LARGE = "too-large"
    NOT_AN_IMAGE = "not-an-image"
    UNSUPPORTED_FORMAT = "unsupported-format"
    TRUNCATED = "truncated-image"
    DECOMPRESSION_BOMB = "decompression-bomb"
    CORRUPT = "corrupt-image"
    OBJECT_MISSING = "object-missing"


class RejectedUpload(Exception):
    """The upload can never be classified: record it REJECTED and acknowledge its message."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class TransientFailure(Exception):
    """Worth retrying (throttling, 5xx, timeouts, contention): fail only this message so SQS
    redelivers it, and after maxReceiveCount attempts parks it in the DLQ."""
