"""The local cloud under a burst, duplicate deliveries, a narrowed role, and redrive."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from classifier.records import object_digest
from local.iam_report import IamReport
from local.program import PROJECT_ROOT, Deployment
from local.results import Results
from tests.images import jpeg
from tests.test_local_cloud import client, e2e_model, start_cloud, upload, wait_for  # noqa: F401

pytestmark = [pytest.mark.enable_socket, pytest.mark.slow]


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_burst_of_200_uploads_is_recorded_exactly_once_with_exact_counts(e2e_model: str) -> None:
    cloud = start_cloud(e2e_model)
    try:
        summary = cloud.summary()
        results = Results(client(cloud, "dynamodb"), summary["table"])
        photos = [jpeg(160, 120, seed=i) for i in range(200)]
        with ThreadPoolExecutor(max_workers=8) as pool:
            uploaded = list(pool.map(lambda i: upload(cloud, f"uploads/burst/{i:03}.jpg", photos[i]), range(200)))
        duplicate = uploaded[0]
        event = {
            "version": "0",
            "id": "dup",
            "detail-type": "Object Created",
            "source": "aws.s3",
            "account": "123456789012",
            "time": "2026-11-25T10:00:00Z",
            "region": summary["region"],
            "resources": [],
            "detail": {
                "bucket": {"name": summary["bucket"]},
                "object": {"key": duplicate.key, "size": duplicate.size, "version-id": duplicate.version_id},
            },
        }
        sqs = client(cloud, "sqs")
        sqs.send_message(QueueUrl=summary["queue_url"], MessageBody=json.dumps(event))

        claims = wait_for(results, uploaded, timeout=180)
        deadline = time.monotonic() + 30
        while queue_depth(sqs, summary["queue_url"]) and time.monotonic() < deadline:
            time.sleep(0.2)

        assert len(claims) == 200
        date = next(iter(claims.values()))["RecordDate"]
        records = [r for r in results.predictions(date) if r["ObjectKey"].startswith("uploads/burst/")]
        assert len(records) == 200, "one record per upload, the duplicate delivery included"
        counts = results.counts(date)
        by_class: dict[str, list[int]] = {}
        for record in records:
            by_class.setdefault(record["ClassName"], []).append(record["Count_ClassName"])
        for name, values in by_class.items():
            assert sorted(values) == list(range(1, counts[name] + 1)), name
        assert queue_depth(sqs, summary["dlq_url"]) == 0
        assert queue_depth(sqs, summary["delivery_dlq_url"]) == 0
    finally:
        cloud.stop()
        cloud.cleanup()


def without_put_item(deployment: Deployment) -> None:
    """A deliberately narrowed role: the function may no longer write records."""
    for policy in deployment.of_type("aws:iam/rolePolicy:RolePolicy"):
        document = json.loads(policy.inputs["policy"])
        for statement in document["Statement"]:
            statement["Action"] = [a for a in statement["Action"] if a != "dynamodb:PutItem"]
        policy.inputs["policy"] = json.dumps(document)


def test_a_narrowed_role_makes_the_run_fail_loudly_then_redrive_recovers(e2e_model: str) -> None:
    cloud = start_cloud(e2e_model, adjust=without_put_item)
    try:
        summary = cloud.summary()
        sqs = client(cloud, "sqs")
        photo = upload(cloud, "uploads/narrow.jpg", jpeg(seed=4))

        deadline = time.monotonic() + 60
        while not queue_depth(sqs, summary["dlq_url"]) and time.monotonic() < deadline:
            time.sleep(0.5)

        assert cloud.resources is not None
        report = IamReport.from_run(cloud.resources.function.role_policies, cloud.run_dir)
        assert {d["action"] for d in report.denied} == {"dynamodb:PutItem"}
        assert queue_depth(sqs, summary["dlq_url"]) == 1, "after maxReceiveCount failures the message is parked"
        results = Results(client(cloud, "dynamodb"), summary["table"])
        assert results.claim(object_digest(photo)) is None

        redriven = subprocess.run(
            [sys.executable, "-m", "local", "redrive", "--from", "processing"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        assert "processing DLQ: 1 message(s) sent back" in redriven.stdout
        assert queue_depth(sqs, summary["dlq_url"]) == 0
    finally:
        cloud.stop()
        cloud.cleanup()
