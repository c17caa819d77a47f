"""The core against moto: records in the original format, rejections, exactly-once counting."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from classifier.events import from_eventbridge
from tests.function_harness import World
from tests.images import bad_uploads, jpeg, unusual_images


def classify(world: World, *events: dict) -> list:
    return world.service.process([from_eventbridge(e) for e in events])


def test_a_photo_gets_one_record_in_the_original_format(world: World) -> None:
    event = world.upload("uploads/field-1/moth.jpg", jpeg())

    (outcome,) = classify(world, event)

    assert outcome.status == "CLASSIFIED" and not outcome.failed
    (record,) = world.records()
    version = event["detail"]["object"]["version-id"]
    assert record["PredictionDate"] == "2026-11-25"
    assert record["ClassName"] in ("AAW", "ECLW", "FAW")
    assert record["ClassPredictionID"].startswith(f"{record['ClassName']}#")
    assert record["Count_ClassName"] == 1
    assert record["CaptureTime"] == "2026-11-25T13:00:00+01:00"  # noon UTC in Africa/Lagos
    assert record["ImageURL_ClassName"] == (
        f"https://uploads-bucket.s3.eu-west-1.amazonaws.com/uploads/field-1/moth.jpg?versionId={version}"
    )
    assert record["ConfidenceScore"] == f"{round(float(record['Confidence']) * 100)}%"
    assert set(record["Probabilities"]) == {"AAW", "ECLW", "FAW"}
    assert abs(sum(record["Probabilities"].values()) - 1) < Decimal("0.0001")
    assert record["Probabilities"][record["ClassName"]] == max(record["Probabilities"].values())
    assert (record["Bucket"], record["ObjectKey"], record["VersionId"]) == (
        "uploads-bucket",
        "uploads/field-1/moth.jpg",
        version,
    )
    assert record["Status"] == "CLASSIFIED" and "Reason" not in record
    assert record["ModelVersion"] == "tiny-seed11-untrained"


@pytest.mark.parametrize(("name", "case"), sorted(bad_uploads().items()))
def test_bad_uploads_are_recorded_rejected_with_a_reason(world: World, name: str, case: tuple[bytes, str]) -> None:
    data, reason = case
    event = world.upload(f"uploads/{name}", data)

    (outcome,) = classify(world, event)

    assert outcome.status == "REJECTED" and not outcome.failed, outcome.error
    (record,) = world.records()
    assert (record["Status"], record["Reason"]) == ("REJECTED", reason)
    assert record["ReasonDetail"]
    assert record["ObjectKey"] == f"uploads/{name}"
    assert "ClassName" not in record and "Count_ClassName" not in record
    assert world.counters() == {("2026-11-25", "REJECTED"): 1}


def test_too_large_is_decided_from_the_event_before_any_download(world: World) -> None:
    service = world.make_service(config=replace(world.config, max_image_bytes=10_000))
    event = world.upload("uploads/big.jpg", jpeg(800, 600))
    calls: list[str] = []
    world.s3.meta.events.register("before-call.s3.GetObject", lambda **_: calls.append("get"))

    (outcome,) = service.process([from_eventbridge(event)])

    assert outcome.status == "REJECTED" and outcome.reason == "too-large"
    assert calls == [], "the object must not be downloaded"


def test_a_version_deleted_before_processing_is_rejected_as_missing(world: World) -> None:
    event = world.upload("uploads/gone.jpg", jpeg())
    world.s3.delete_object(
        Bucket=world.bucket, Key="uploads/gone.jpg", VersionId=event["detail"]["object"]["version-id"]
    )

    (outcome,) = classify(world, event)

    assert (outcome.status, outcome.reason) == ("REJECTED", "object-missing")


@pytest.mark.parametrize(("name", "data"), sorted(unusual_images().items()))
def test_unusual_images_are_classified(world: World, name: str, data: bytes) -> None:
    (outcome,) = classify(world, world.upload(f"uploads/{name}", data))

    assert outcome.status == "CLASSIFIED", (name, outcome.reason, outcome.error)


def test_same_named_uploads_are_separate_versions_and_separate_records(world: World) -> None:
    first = world.upload("uploads/same.jpg", jpeg(seed=1))
    second = world.upload("uploads/same.jpg", jpeg(seed=2))

    classify(world, first, second)

    versions = {r["VersionId"] for r in world.records()}
    assert versions == {first["detail"]["object"]["version-id"], second["detail"]["object"]["version-id"]}


def test_duplicate_delivery_records_and_counts_once(world: World) -> None:
    event = world.upload("uploads/twice.jpg", jpeg())

    first, second = classify(world, event), classify(world, event)
    third = classify(world, event, event)

    assert first[0].status == "CLASSIFIED"
    assert second[0].status == third[0].status == third[1].status == "DUPLICATE"
    assert len(world.records()) == 1
    assert sum(world.counters().values()) == 1
    assert second[0].record["ClassPredictionID"] == first[0].record["ClassPredictionID"]


def test_n_images_of_one_class_get_counts_exactly_one_to_n(world: World) -> None:
    events = [world.upload(f"uploads/n-{i}.jpg", jpeg(seed=100 + i)) for i in range(12)]

    classify(world, *events[:5])
    classify(world, *events[5:])

    by_class: dict[str, list[int]] = {}
    for record in world.records():
        by_class.setdefault(record["ClassName"], []).append(int(record["Count_ClassName"]))
    for name, counts in by_class.items():
        assert sorted(counts) == list(range(1, len(counts) + 1)), name
        assert world.counters()[("2026-11-25", name)] == len(counts)
    assert sum(len(c) for c in by_class.values()) == 12


def test_concurrent_deliveries_count_exactly(world: World, tiny_model_dir) -> None:
    """Eight threads, each its own service and model (an execution environment each), racing on
    distinct images of the same classes and on one image delivered to all of them."""
    from classifier.model import load_classifier

    distinct = [world.upload(f"uploads/c-{i}.jpg", jpeg(seed=200 + i)) for i in range(16)]
    repeated = world.upload("uploads/hot.jpg", jpeg(seed=999))
    services = [
        world.make_service(classifier=load_classifier(tiny_model_dir, "litert", world.config.class_names))
        for _ in range(8)
    ]
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            mine = [from_eventbridge(e) for e in distinct[index::8]] + [from_eventbridge(repeated)]
            for outcome in services[index].process(mine):
                assert not outcome.failed, outcome.error
        except BaseException as err:  # surfaced below, in the test thread
            errors.append(err)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert not errors, errors
    records = world.records()
    assert len(records) == 17
    counts: dict[str, list[int]] = {}
    for record in records:
        counts.setdefault(record["ClassName"], []).append(int(record["Count_ClassName"]))
    for name, values in counts.items():
        assert sorted(values) == list(range(1, len(values) + 1)), (name, sorted(values))


class CrashAfterCommit:
    """Wraps the DynamoDB client: the transaction commits, then the caller 'crashes'."""

    def __init__(self, client, crash_before: bool = False) -> None:
        self._client = client
        self.crash_before = crash_before
        self.armed = True

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def transact_write_items(self, **kwargs):
        if self.armed and self.crash_before:
            self.armed = False
            raise ConnectionResetError("execution environment died before the write")
        result = self._client.transact_write_items(**kwargs)
        if self.armed:
            self.armed = False
            raise ConnectionResetError("execution environment died after the write")
        return result


@pytest.mark.parametrize("crash_before", [False, True], ids=["crash-after-commit", "crash-before-commit"])
def test_a_crash_mid_record_then_a_retry_counts_once(world: World, crash_before: bool) -> None:
    from classifier.store import PredictionStore

    event = world.upload("uploads/crash.jpg", jpeg())
    flaky = CrashAfterCommit(world.dynamodb, crash_before=crash_before)
    crashing = world.make_service(store=PredictionStore(world.table, flaky, sleep=lambda _: None))

    (first,) = crashing.process([from_eventbridge(event)])
    (retry,) = world.service.process([from_eventbridge(event)])

    assert first.failed, "the crash fails the message so SQS redelivers it"
    assert retry.status == ("CLASSIFIED" if crash_before else "DUPLICATE")
    assert len(world.records()) == 1
    assert sum(world.counters().values()) == 1


def test_the_date_follows_the_clock_in_a_warm_service(world: World) -> None:
    """Lagos is UTC+1: 22:59:59Z is 23:59:59 on the 25th, 23:00:01Z is 00:00:01 on the 26th."""
    times = iter([datetime(2026, 11, 25, 22, 59, 59, tzinfo=UTC), datetime(2026, 11, 25, 23, 0, 1, tzinfo=UTC)])
    world.clock = lambda: next(times)
    before = world.upload("uploads/before-midnight.jpg", jpeg(seed=5))
    after = world.upload("uploads/after-midnight.jpg", jpeg(seed=5))

    classify(world, before)
    classify(world, after)

    by_key = {r["ObjectKey"]: r for r in world.records()}
    assert by_key["uploads/before-midnight.jpg"]["PredictionDate"] == "2026-11-25"
    assert by_key["uploads/after-midnight.jpg"]["PredictionDate"] == "2026-11-26"
    assert by_key["uploads/after-midnight.jpg"]["Count_ClassName"] == 1, "a new day starts a new count"
    assert by_key["uploads/after-midnight.jpg"]["CaptureTime"] == "2026-11-26T00:00:01+01:00"


def test_a_transaction_that_cannot_succeed_fails_at_once_instead_of_spinning(world: World) -> None:
    from botocore.exceptions import ClientError

    calls: list[str] = []
    world.dynamodb.meta.events.register("before-call.dynamodb.TransactWriteItems", lambda **_: calls.append("tx"))
    too_big = "x" * 500_000  # DynamoDB items stop at 400 KB

    with pytest.raises(ClientError):
        world.store.record(
            "d" * 32,
            "2026-11-25",
            "FAW",
            lambda n: {
                "PredictionDate": "2026-11-25",
                "ClassPredictionID": f"FAW#{'d' * 32}",
                "Status": "CLASSIFIED",
                "Bucket": "b",
                "ObjectKey": "k",
                "VersionId": "v",
                "CaptureTime": "t",
                "Blob": too_big,
                "Count_ClassName": n,
            },
        )

    assert calls == ["tx"]
    assert world.records() == [] and world.counters() == {}
