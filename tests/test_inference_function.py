"""InferenceFunction under mocks: image package, sizes, logging, queue mapping, SnapStart."""

from __future__ import annotations

import dataclasses

import pytest

from components.inference_function import InferenceFunction, InferenceFunctionArgs
from local.program import Deployment, run

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/repo@sha256:" + "ab" * 32
QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:uploads-queue"


def function_args(**overrides: object) -> InferenceFunctionArgs:
    base = InferenceFunctionArgs(
        function_name="image-classifier-test-classify",
        image_uri=IMAGE,
        bucket_arn="arn:aws:s3:::photos-bucket",
        upload_prefix="uploads/",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/preds",
        queue_arn=QUEUE_ARN,
        environment={"TABLE_NAME": "preds"},
    )
    return dataclasses.replace(base, **overrides)


def deploy(**overrides: object) -> Deployment:
    return run(lambda: InferenceFunction("classify", function_args(**overrides)))


def test_runs_the_image_by_digest_with_the_original_sizes() -> None:
    function = deploy().one("aws:lambda/function:Function").inputs

    assert function["packageType"] == "Image"
    assert function["imageUri"] == IMAGE and "@sha256:" in function["imageUri"]
    assert function["memorySize"] == 7168
    assert function["timeout"] == 300
    assert function["architectures"] == ["x86_64"]
    assert function["ephemeralStorage"] == {"size": 512}
    assert function["environment"] == {"variables": {"TABLE_NAME": "preds"}}
    assert "runtime" not in function and "handler" not in function


def test_logs_go_to_its_own_group_with_retention() -> None:
    deployment = deploy(log_retention_days=90, log_level="WARNING")
    group = deployment.one("aws:cloudwatch/logGroup:LogGroup")

    logging = deployment.one("aws:lambda/function:Function").inputs["loggingConfig"]

    assert group.inputs["name"] == "/aws/lambda/image-classifier-test-classify"
    assert group.inputs["retentionInDays"] == 90
    assert logging["logGroup"] == group["name"]
    assert logging["logFormat"] == "JSON"
    assert logging["applicationLogLevel"] == "WARN"


def test_queue_mapping_reports_partial_batch_failures_with_bounded_concurrency() -> None:
    deployment = deploy(batch_size=50, batching_window_seconds=5, max_concurrency=7)
    function = deployment.one("aws:lambda/function:Function")

    mapping = deployment.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs

    assert mapping["eventSourceArn"] == QUEUE_ARN
    assert mapping["functionName"] == function["arn"]
    assert mapping["batchSize"] == 50
    assert mapping["maximumBatchingWindowInSeconds"] == 5
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["scalingConfig"] == {"maximumConcurrency": 7}


def test_optional_reserved_concurrency_and_tracing() -> None:
    plain = deploy().one("aws:lambda/function:Function").inputs
    tuned = deploy(reserved_concurrency=20, tracing=True).one("aws:lambda/function:Function").inputs

    assert "reservedConcurrentExecutions" not in plain
    assert plain["tracingConfig"] == {"mode": "PassThrough"}
    assert tuned["reservedConcurrentExecutions"] == 20
    assert tuned["tracingConfig"] == {"mode": "Active"}


def test_snap_start_publishes_versions_and_the_mapping_invokes_the_alias() -> None:
    deployment = deploy(snap_start=True)
    function = deployment.one("aws:lambda/function:Function")

    alias = deployment.one("aws:lambda/alias:Alias")
    mapping = deployment.one("aws:lambda/eventSourceMapping:EventSourceMapping").inputs

    assert function.inputs["snapStart"] == {"applyOn": "PublishedVersions"}
    assert function.inputs["publish"] is True
    assert alias.inputs["functionVersion"] == function["version"] != "$LATEST"
    assert mapping["functionName"] == alias["arn"]


def test_without_snap_start_there_is_no_alias() -> None:
    deployment = deploy()

    assert deployment.of_type("aws:lambda/alias:Alias") == []
    assert "snapStart" not in deployment.one("aws:lambda/function:Function").inputs


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"memory_mb": 64}, "memory_mb must be from 128 to 10240"),
        ({"timeout_seconds": 901}, "timeout_seconds must be from 1 to 900"),
        ({"architecture": "amd64"}, "architecture must be one of x86_64, arm64"),
        ({"snap_start": True, "ephemeral_storage_mb": 1024}, "snap_start allows at most 512 MB"),
        ({"max_concurrency": 1}, "max_concurrency must be at least 2"),
        ({"batch_size": 100}, "batch_size above 10 needs batching_window_seconds"),
        ({"function_name": "x" * 65}, "function_name must be 1-64 characters"),
    ],
)
def test_conflicting_or_impossible_inputs_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deploy(**overrides)
