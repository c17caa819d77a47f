"""EventRouting under mocks: the rule's pattern is evaluated against real-shaped S3 events."""

from __future__ import annotations

import json

import pytest
from moto.events.models import EventPattern

from components.event_routing import EventRouting, EventRoutingArgs
from local.program import Deployment, run
from tests.conftest import load_event
from tests.infra_helpers import policy_of

BUCKET = "photos-bucket"


def deploy(**overrides: object) -> Deployment:
    args = EventRoutingArgs(bucket_name=BUCKET, upload_prefix="uploads/", visibility_timeout_seconds=1800)
    for key, value in overrides.items():
        setattr(args, key, value)
    return run(lambda: EventRouting("route", args))


def rule_pattern(deployment: Deployment) -> EventPattern:
    return EventPattern.load(deployment.one("aws:cloudwatch/eventRule:EventRule").inputs["eventPattern"])


@pytest.mark.parametrize(
    ("event", "matches"),
    [
        (load_event("eventbridge_object_created", bucket=BUCKET), True),
        (load_event("eventbridge_object_created", bucket=BUCKET, key="uploads/a.png"), True),
        (load_event("eventbridge_object_created", bucket=BUCKET, key="outputs/a.jpg"), False),
        (load_event("eventbridge_object_created", bucket=BUCKET, key="uploadsX/a.jpg"), False),
        (load_event("eventbridge_object_created", bucket=BUCKET, key="a/uploads/a.jpg"), False),
        (load_event("eventbridge_object_created", bucket="someone-elses-bucket"), False),
        (load_event("eventbridge_object_deleted", bucket=BUCKET), False),
    ],
    ids=[
        "created-under-prefix",
        "png-under-prefix",
        "other-prefix",
        "prefix-lookalike",
        "nested-prefix",
        "other-bucket",
        "deleted",
    ],
)
def test_rule_matches_created_objects_under_the_prefix_of_this_bucket_only(event: dict, matches: bool) -> None:
    assert rule_pattern(deploy()).matches_event(event) is matches


def test_queue_admits_only_the_rule_and_only_over_tls() -> None:
    deployment = deploy()
    rule_arn = deployment.one("aws:cloudwatch/eventRule:EventRule")["arn"]
    queue_arn = deployment.one("aws:sqs/queue:Queue", "-queue")["arn"]

    policy = policy_of(deployment.one("aws:sqs/queuePolicy:QueuePolicy", "-queue-policy"))

    allow = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1
    assert allow[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow[0]["Action"] == "sqs:SendMessage"
    assert allow[0]["Resource"] == queue_arn
    assert allow[0]["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arn}}
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_target_retries_then_parks_undeliverable_events() -> None:
    deployment = deploy(retry_attempts=20, max_event_age_seconds=3600)
    delivery_dlq = deployment.one("aws:sqs/queue:Queue", "-delivery-dlq")

    target = deployment.one("aws:cloudwatch/eventTarget:EventTarget").inputs

    assert target["arn"] == deployment.one("aws:sqs/queue:Queue", "-queue")["arn"]
    assert target["retryPolicy"] == {"maximumRetryAttempts": 20, "maximumEventAgeInSeconds": 3600}
    assert target["deadLetterConfig"]["arn"] == delivery_dlq["arn"]
    dlq_policy = policy_of(deployment.one("aws:sqs/queuePolicy:QueuePolicy", "-delivery-dlq-policy"))
    assert dlq_policy["Statement"][0]["Resource"] == delivery_dlq["arn"]


def test_queue_is_encrypted_redrives_to_the_processing_dlq_and_outlives_the_function() -> None:
    deployment = deploy(max_receive_count=4)
    processing_dlq = deployment.one("aws:sqs/queue:Queue", "-processing-dlq")

    queue = deployment.one("aws:sqs/queue:Queue", "-queue").inputs

    assert json.loads(queue["redrivePolicy"]) == {"deadLetterTargetArn": processing_dlq["arn"], "maxReceiveCount": 4}
    assert queue["visibilityTimeoutSeconds"] == 1800
    for q in deployment.of_type("aws:sqs/queue:Queue"):
        assert q.inputs["sqsManagedSseEnabled"] is True, q.name
    allow = json.loads(deployment.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy").inputs["redriveAllowPolicy"])
    assert allow == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [deployment.one("aws:sqs/queue:Queue", "-queue")["arn"]],
    }


def test_impossible_settings_are_refused() -> None:
    with pytest.raises(Exception, match="max_receive_count must be from 1 to 1000"):
        deploy(max_receive_count=0)
    with pytest.raises(Exception, match="SQS keeps messages at most 14 days"):
        deploy(message_retention_seconds=15 * 24 * 3600)
