"""The Lambda handler: SQS batches in, partial batch failures out, metrics and logs along the way."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from classifier import handler
from classifier.config import FunctionConfig
from tests.function_harness import World, sqs_batch
from tests.images import jpeg


@dataclass
class FakeContext:
    function_name: str = "image-classifier-test-classify"
    memory_limit_in_mb: int = 7168
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:image-classifier-test-classify"
    aws_request_id: str = "0f0e0d0c-0000-1111-2222-333344445555"


def invoke(world: World, event: dict) -> dict:
    handler.configure(world.service)
    return handler.lambda_handler(event, FakeContext())


def failed_ids(response: dict) -> list[str]:
    return sorted(item["itemIdentifier"] for item in response["batchItemFailures"])


def test_good_and_bad_uploads_are_acknowledged_malformed_messages_fail_alone(world: World) -> None:
    good = world.upload("uploads/good.jpg", jpeg())
    bad = world.upload("uploads/notes.txt", b"not an image at all")
    event = sqs_batch(good, bad, good)
    event["Records"].append({**event["Records"][0], "messageId": "garbage", "body": "{not json"})

    response = invoke(world, event)

    assert failed_ids(response) == ["garbage"]
    statuses = sorted(r["Status"] for r in world.records())
    assert statuses == ["CLASSIFIED", "REJECTED"]


class ThrottlingS3:
    """S3 that says SlowDown for one key, as S3 does under a burst."""

    def __init__(self, client, key: str) -> None:
        self._client = client
        self._key = key

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def get_object(self, **kwargs):
        if kwargs["Key"] == self._key:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return self._client.get_object(**kwargs)


def test_a_transient_error_fails_only_its_message_and_the_retry_records_it(world: World) -> None:
    ok = world.upload("uploads/ok.jpg", jpeg(seed=1))
    throttled = world.upload("uploads/throttled.jpg", jpeg(seed=2))
    handler.configure(world.make_service(s3=ThrottlingS3(world.s3, "uploads/throttled.jpg")))

    first = handler.lambda_handler(sqs_batch(ok, throttled), FakeContext())
    retry = invoke(world, sqs_batch(throttled))

    assert failed_ids(first) == ["message-1"]
    assert failed_ids(retry) == []
    assert sorted(r["ObjectKey"] for r in world.records()) == ["uploads/ok.jpg", "uploads/throttled.jpg"]


def test_a_bare_eventbridge_event_is_accepted(world: World) -> None:
    event = world.upload("uploads/direct.jpg", jpeg())

    response = invoke(world, event)

    assert response == {"batchItemFailures": []}
    assert [r["ObjectKey"] for r in world.records()] == ["uploads/direct.jpg"]


def test_metrics_count_outcomes_and_rejections_by_reason(world: World, capsys: pytest.CaptureFixture[str]) -> None:
    good = world.upload("uploads/a.jpg", jpeg())
    empty = world.upload("uploads/empty.jpg", b"")

    invoke(world, sqs_batch(good, empty, good))

    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = {m["Name"] for blob in blobs for d in blob["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
    assert {"Classified", "Rejected", "Duplicate", "ImageLatency", "RejectedByReason"} <= names
    by_reason = [b for b in blobs if "RejectedByReason" in b]
    assert [b["reason"] for b in by_reason] == ["empty-object"]
    main = next(b for b in blobs if "Classified" in b)
    assert (main["Classified"], main["Rejected"], main["Duplicate"]) == ([1.0], [1.0], [1.0])


def test_logs_carry_the_object_key_as_correlation_id(world: World) -> None:
    event = world.upload("uploads/cam-3/frame.jpg", jpeg())
    # Powertools' Logger keeps the stream it found at import; point it at a buffer for this test.
    buffer = io.StringIO()
    previous = handler.logger.registered_handler.setStream(buffer)

    try:
        invoke(world, sqs_batch(event))
    finally:
        handler.logger.registered_handler.setStream(previous)

    logs = [json.loads(line) for line in buffer.getvalue().splitlines()]
    recorded = [entry for entry in logs if entry["message"] == "upload recorded"]
    assert recorded and recorded[0]["correlation_id"] == "uploads/cam-3/frame.jpg"
    assert recorded[0]["status"] == "CLASSIFIED" and recorded[0]["ClassName"] in ("AAW", "ECLW", "FAW")


def test_config_travels_through_the_environment_unchanged() -> None:
    config = FunctionConfig(
        table_name="t",
        class_names=("A", "B"),
        upload_prefix="in/",
        timezone="UTC",
        inference_runtime="tensorflow",
        max_image_bytes=1234,
        image_formats=("JPEG",),
        log_level="DEBUG",
    )

    assert FunctionConfig.from_environment(config.to_environment()) == config
    with pytest.raises(RuntimeError, match="function environment lacks TABLE_NAME, CLASS_NAMES"):
        FunctionConfig.from_environment({})


def test_snapstart_hooks_warm_the_model_and_renew_clients_and_seed(world: World) -> None:
    import random

    from snapshot_restore_py import get_after_restore, get_before_snapshot

    service = handler.configure(world.service)
    registered_before = [f for f, *_ in get_before_snapshot()]
    registered_after = [f for f, *_ in get_after_restore()]
    assert handler._before_snapshot in registered_before and handler._after_restore in registered_after

    handler._before_snapshot()  # a warm-up inference, in the snapshot
    random.seed(1)
    before = random.random()
    random.seed(1)
    handler._after_restore()
    restored = handler._service

    assert restored is not None and restored is not service
    assert restored.classifier is service.classifier, "the loaded model is kept"
    assert restored.s3 is not service.s3 and restored.store is not service.store
    assert random.random() != before, "each restored environment reseeds"
    event = world.upload("uploads/after-restore.jpg", jpeg())
    assert handler.lambda_handler(sqs_batch(event), FakeContext()) == {"batchItemFailures": []}
    assert [r["ObjectKey"] for r in world.records()] == ["uploads/after-restore.jpg"]
