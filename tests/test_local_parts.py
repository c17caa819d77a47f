"""The local cloud's pieces on their own: event fixups, the IAM guard, policy conditions."""

from __future__ import annotations

import pytest
from moto.iam.access_control import PermissionResult

from components.policies import bucket_policy, function_policy
from local.emulator import conditions_met, evaluate_statements
from local.fixups import fix_event
from local.iam_guard import AccessDeniedByLocalIam, IamGuard
from tests.conftest import load_event

BUCKET_ARN = "arn:aws:s3:::photos"
ROLE_POLICY = function_policy(
    bucket_arn=BUCKET_ARN,
    upload_prefix="uploads/",
    table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/preds",
    queue_arn="arn:aws:sqs:eu-west-1:123456789012:queue",
    log_group_arn="arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/fn",
    tracing=False,
)


def moto_shaped_event() -> dict:
    event = load_event("eventbridge_object_created")
    obj = event["detail"]["object"]
    obj["eTag"] = obj.pop("etag")
    obj["sequencer"] = "617f08299329d189"
    event["detail"]["reason"] = "ObjectCreated"
    event["id"] = "17793124-05d4-b198-2fde-7ededc63b103"  # moto sends this id with every event
    return event


def test_moto_events_are_corrected_to_the_shape_aws_sends() -> None:
    real = load_event("eventbridge_object_created")

    fixed = fix_event(moto_shaped_event(), message_id="m-1")

    assert fixed["detail"]["object"]["etag"] == real["detail"]["object"]["etag"]
    assert "eTag" not in fixed["detail"]["object"]
    assert fixed["detail"]["reason"] == "PutObject"
    assert fixed["id"] != real["id"]
    assert fix_event(moto_shaped_event(), "m-1")["id"] == fixed["id"], "a redelivered message keeps its event id"
    assert (
        fix_event(moto_shaped_event(), "m-2")["detail"]["object"]["sequencer"] != fixed["detail"]["object"]["sequencer"]
    )
    assert fix_event(real, "m-3") == real, "a real-shaped event is left alone"


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        (
            "s3",
            "GetObject",
            {"Bucket": "photos", "Key": "uploads/a.jpg", "VersionId": "v1"},
            [("s3:GetObjectVersion", "arn:aws:s3:::photos/uploads/a.jpg")],
        ),
        (
            "s3",
            "GetObject",
            {"Bucket": "photos", "Key": "uploads/a.jpg"},
            [("s3:GetObject", "arn:aws:s3:::photos/uploads/a.jpg")],
        ),
        (
            "dynamodb",
            "TransactWriteItems",
            {"TransactItems": [{"Put": {"TableName": "preds"}}, {"Update": {"TableName": "preds"}}]},
            [
                ("dynamodb:PutItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/preds"),
                ("dynamodb:UpdateItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/preds"),
            ],
        ),
        (
            "sqs",
            "DeleteMessageBatch",
            {"QueueUrl": "http://127.0.0.1:4566/123456789012/queue"},
            [("sqs:DeleteMessage", "arn:aws:sqs:eu-west-1:123456789012:queue")],
        ),
    ],
)
def test_guard_maps_calls_to_the_action_and_arn_iam_evaluates(service, operation, params, expected) -> None:
    guard = IamGuard([ROLE_POLICY], "eu-west-1")

    assert list(guard.required(service, operation, params)) == expected


def test_guard_allows_the_declared_grants_and_nothing_else() -> None:
    guard = IamGuard([ROLE_POLICY], "eu-west-1")

    assert guard.allows("s3:GetObjectVersion", "arn:aws:s3:::photos/uploads/cam/a.jpg")
    assert not guard.allows("s3:GetObjectVersion", "arn:aws:s3:::photos/private/a.jpg")
    assert not guard.allows("s3:PutObject", "arn:aws:s3:::photos/uploads/a.jpg")
    assert not guard.allows("dynamodb:Scan", "arn:aws:dynamodb:eu-west-1:123456789012:table/preds")
    assert not guard.allows("dynamodb:GetItem", "arn:aws:dynamodb:eu-west-1:123456789012:table/other")
    with pytest.raises(AccessDeniedByLocalIam, match="no IAM mapping for s3:DeleteBucket"):
        list(guard.required("s3", "DeleteBucket", {"Bucket": "photos"}))


def test_guard_refuses_policies_it_cannot_evaluate_faithfully() -> None:
    conditional = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            }
        ],
    }

    with pytest.raises(ValueError, match="cannot evaluate \\['Condition'\\]"):
        IamGuard([conditional], "eu-west-1")


def test_tls_only_bucket_policy_denies_insecure_requests_and_only_those() -> None:
    policy = bucket_policy(BUCKET_ARN)

    insecure = evaluate_statements(
        policy, "s3:PutObject", f"{BUCKET_ARN}/uploads/a.jpg", {"aws:SecureTransport": "false"}
    )
    secure = evaluate_statements(policy, "s3:PutObject", f"{BUCKET_ARN}/uploads/a.jpg", {"aws:SecureTransport": "true"})

    assert insecure == PermissionResult.DENIED
    assert secure == PermissionResult.NEUTRAL


def test_conditions_need_their_key_in_the_request() -> None:
    assert conditions_met({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": "FALSE"})
    assert not conditions_met({"Bool": {"aws:SecureTransport": "false"}}, {})
    assert conditions_met(
        {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:*:rule/x*"}},
        {"aws:SourceArn": "arn:aws:events:eu-west-1:1:rule/xy"},
    )
    with pytest.raises(NotImplementedError, match="NumericLessThan"):
        conditions_met({"NumericLessThan": {"k": "1"}}, {"k": "0"})


def test_a_failed_transaction_leaves_every_item_as_it_was(aws_credentials) -> None:
    """The emulator keeps only touched items for rollback; a cancelled transaction must still
    undo its first write when its second fails."""
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws

    from local.emulator import serialize_in_process_requests
    from tests.function_harness import create_table

    serialize_in_process_requests()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="eu-west-1")
        create_table(dynamodb, "t")
        key = {"PredictionDate": {"S": "d"}, "ClassPredictionID": {"S": "COUNT#A"}}
        dynamodb.put_item(TableName="t", Item={**key, "Count": {"N": "5"}})

        with pytest.raises(ClientError, match="TransactionCanceled"):
            dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": "t",
                            "Item": {"PredictionDate": {"S": "OBJECT#x"}, "ClassPredictionID": {"S": "CLAIM"}},
                        }
                    },
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": key,
                            "UpdateExpression": "SET #c = :n",
                            "ConditionExpression": "#c = :old",
                            "ExpressionAttributeNames": {"#c": "Count"},
                            "ExpressionAttributeValues": {":n": {"N": "7"}, ":old": {"N": "6"}},
                        }
                    },
                ]
            )

        items = dynamodb.scan(TableName="t")["Items"]
        assert items == [{**key, "Count": {"N": "5"}}]


def test_the_guard_covers_sessions_the_function_makes_itself(aws_credentials) -> None:
    import boto3
    import boto3.session

    guard = IamGuard([ROLE_POLICY], "eu-west-1")
    uninstall = guard.install_everywhere()
    try:
        client = boto3.session.Session(region_name="eu-west-1").client("dynamodb")

        with pytest.raises(AccessDeniedByLocalIam, match="may not dynamodb:Scan"):
            client.scan(TableName="preds")
    finally:
        uninstall()


def test_a_presigned_post_is_checked_as_the_upload_it_authorises(aws_credentials) -> None:
    import boto3.session

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["arn:aws:s3:::photos/uploads/api/*"]}
        ],
    }
    uninstall = IamGuard([policy], "eu-west-1").install_everywhere()
    try:
        s3 = boto3.session.Session(region_name="eu-west-1").client("s3")

        granted = s3.generate_presigned_post("photos", "uploads/api/2026-11-25/a.jpg")
        with pytest.raises(AccessDeniedByLocalIam, match="may not s3:PutObject on arn:aws:s3:::photos/uploads/cam"):
            s3.generate_presigned_post("photos", "uploads/cam/a.jpg")
    finally:
        uninstall()

    assert granted["fields"]["key"] == "uploads/api/2026-11-25/a.jpg"
    # Uninstalled: presigning is unguarded again in this process.
    assert boto3.session.Session(region_name="eu-west-1").client("s3").generate_presigned_post("photos", "x")
