"""End to end on the embedded local cloud: the program's own resources in moto, the real handler
in worker processes, every AWS call checked against the declared role policy."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from boto3.s3.transfer import TransferConfig

from classifier.events import UploadedObject
from classifier.records import object_digest
from local.cloud import LocalCloud
from local.iam_report import IamReport
from local.program import PROJECT_ROOT, Deployment
from local.results import Results
from local.server import free_port
from tests.images import jpeg

pytestmark = [pytest.mark.enable_socket, pytest.mark.slow]

E2E_MODEL = "models/.e2e-tiny"


@pytest.fixture(scope="module")
def e2e_model() -> str:
    """The tiny test model, where the program's modelSource may point (under models/)."""
    from modelkit.build import build_model
    from modelkit.convert import convert

    target = PROJECT_ROOT / E2E_MODEL
    if not (target / "model.tflite").is_file():
        build_model("tiny", target, seed=11)
        convert(target, target)
    return E2E_MODEL


def start_cloud(model: str, adjust: Callable[[Deployment], None] | None = None, **config: str) -> LocalCloud:
    """A local cloud on a free port with the tiny model, quick retries and a 2-receive DLQ."""
    settings = {"image-classifier:modelSource": model, "image-classifier:maxReceiveCount": "2", **config}
    return LocalCloud(port=free_port(), workers=2, config=settings, visibility_seconds=1, adjust=adjust).start()


@pytest.fixture(scope="module")
def cloud(e2e_model: str) -> Iterator[LocalCloud]:
    running = start_cloud(e2e_model)
    yield running
    running.stop()
    running.cleanup()


def client(cloud: LocalCloud, service: str) -> Any:
    summary = cloud.summary()
    return boto3.client(
        service,
        endpoint_url=summary["endpoint_url"],
        region_name=summary["region"],
        aws_access_key_id="someone",
        aws_secret_access_key="else",
    )


def wait_for(results: Results, objects: list[UploadedObject], timeout: float = 60) -> dict[str, dict[str, Any]]:
    pending = {object_digest(o): o for o in objects}
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for digest in list(pending):
            claim = results.claim(digest)
            if claim:
                found[pending.pop(digest).key] = claim
        time.sleep(0.2)
    assert not pending, f"never recorded: {[o.key for o in pending.values()]}"
    return found


def upload(cloud: LocalCloud, key: str, data: bytes) -> UploadedObject:
    summary = cloud.summary()
    response = client(cloud, "s3").put_object(Bucket=summary["bucket"], Key=key, Body=data)
    return UploadedObject(summary["bucket"], key, response["VersionId"], len(data), None, None)


def test_uploads_flow_through_the_programs_own_resources(cloud: LocalCloud) -> None:
    summary = cloud.summary()
    results = Results(client(cloud, "dynamodb"), summary["table"])
    good = [upload(cloud, f"uploads/e2e/photo-{i}.jpg", jpeg(seed=300 + i)) for i in range(6)]
    bad = upload(cloud, "uploads/e2e/notes.jpg", b"not a picture")
    ignored = upload(cloud, "elsewhere/photo.jpg", jpeg())

    claims = wait_for(results, [*good, bad])

    assert {claims[o.key]["Status"] for o in good} == {"CLASSIFIED"}
    assert claims[bad.key]["Status"] == "REJECTED"
    time.sleep(1)
    assert results.claim(object_digest(ignored)) is None, "the rule only matches the upload prefix"
    date = claims[good[0].key]["RecordDate"]
    by_class: dict[str, list[int]] = {}
    for record in results.predictions(date):
        if record["Status"] == "CLASSIFIED":
            by_class.setdefault(record["ClassName"], []).append(record["Count_ClassName"])
    counts = results.counts(date)
    assert sum(len(v) for v in by_class.values()) >= len(good)
    for name, values in by_class.items():
        assert sorted(values) == list(range(1, counts[name] + 1)), name


def test_multipart_uploads_like_aws_s3_cp_are_classified(cloud: LocalCloud, tmp_path: Path) -> None:
    """`aws s3 cp` uses boto3's transfer manager, multipart above its threshold."""
    summary = cloud.summary()
    photo = tmp_path / "big.jpg"
    photo.write_bytes(jpeg(4000, 3000, seed=8))
    s3 = client(cloud, "s3")

    s3.upload_file(
        str(photo), summary["bucket"], "uploads/e2e/big.jpg", Config=TransferConfig(multipart_threshold=1024 * 1024)
    )

    version = s3.head_object(Bucket=summary["bucket"], Key="uploads/e2e/big.jpg")["VersionId"]
    obj = UploadedObject(summary["bucket"], "uploads/e2e/big.jpg", version, None, None, None)
    claims = wait_for(Results(client(cloud, "dynamodb"), summary["table"]), [obj])
    assert claims[obj.key]["Status"] == "CLASSIFIED"


def test_a_version_gone_before_processing_is_recorded_missing(cloud: LocalCloud, event_loader) -> None:
    summary = cloud.summary()
    event = event_loader(
        "eventbridge_object_created",
        bucket=summary["bucket"],
        key="uploads/e2e/vanished.jpg",
        version_id="no-such-version",
    )
    client(cloud, "sqs").send_message(QueueUrl=summary["queue_url"], MessageBody=json.dumps(event))
    obj = UploadedObject(summary["bucket"], "uploads/e2e/vanished.jpg", "no-such-version", None, None, None)

    claims = wait_for(Results(client(cloud, "dynamodb"), summary["table"]), [obj])

    assert claims[obj.key]["Status"] == "REJECTED"
    record = Results(client(cloud, "dynamodb"), summary["table"]).predictions(claims[obj.key]["RecordDate"], "REJECTED")
    assert any(r["ObjectKey"] == obj.key and r["Reason"] == "object-missing" for r in record)


def test_a_message_that_keeps_failing_lands_in_the_dlq(cloud: LocalCloud) -> None:
    summary = cloud.summary()
    sqs = client(cloud, "sqs")
    sqs.send_message(QueueUrl=summary["queue_url"], MessageBody='{"not": "an S3 event"}')

    deadline, parked = time.monotonic() + 30, list[dict[str, Any]]()
    while not parked and time.monotonic() < deadline:
        parked = sqs.receive_message(QueueUrl=summary["dlq_url"], MaxNumberOfMessages=10).get("Messages", [])
        time.sleep(0.5)

    assert [json.loads(m["Body"]) for m in parked] == [{"not": "an S3 event"}]


def test_every_call_was_allowed_and_every_grant_was_used(cloud: LocalCloud) -> None:
    # Runs after the tests above (file order): classified, rejected, missing and failed paths.
    assert cloud.resources is not None
    report = IamReport.from_run(cloud.resources.function.role_policies, cloud.run_dir)

    assert report.denied == []
    assert report.unused == set(), f"granted but never used: {report.unused}"
