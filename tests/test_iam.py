"""Least privilege, enumerated: every statement of every policy each function's role gets."""

from __future__ import annotations

import fnmatch
import json

import pytest

from local.program import Declared, Deployment
from tests.infra_helpers import (
    api_function,
    as_list,
    inference_function,
    log_group_of,
    policy_of,
    role_of,
    run_program,
)

EXPECTED_ACTIONS = {
    "s3:GetObjectVersion",
    "s3:ListBucket",
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}
TRACING_ACTIONS = {"xray:PutTelemetryRecords", "xray:PutTraceSegments"}


API_ACTIONS = {
    "s3:PutObject",
    "s3:GetObjectVersion",
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
}


def role_statements(deployment: Deployment, function: Declared | None = None) -> list[dict]:
    """All statements granted to a function's role (default: the inference function's),
    wherever the program attached them."""
    role = role_of(deployment, function or inference_function(deployment))
    role_name = role["name"]
    statements: list[dict] = []
    for inline in role.inputs.get("inlinePolicies") or []:
        statements += json.loads(inline["policy"])["Statement"]
    for policy in deployment.of_type("aws:iam/rolePolicy:RolePolicy"):
        if policy.inputs["role"] in (role_name, role.outputs.get("id"), role["arn"]):
            statements += policy_of(policy)["Statement"]
    assert not role.inputs.get("managedPolicyArns"), "no managed policy on the function role"
    assert not deployment.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert not deployment.of_type("aws:iam/policyAttachment:PolicyAttachment")
    return statements


def granted(statements: list[dict]) -> dict[str, set[str]]:
    """action -> the resources it is allowed on."""
    grants: dict[str, set[str]] = {}
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in as_list(statement["Action"]):
            grants.setdefault(action, set()).update(as_list(statement["Resource"]))
    return grants


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_role_holds_exactly_the_actions_the_function_uses(stack: str) -> None:
    deployment = run_program(stack)
    tracing = stack == "prod"

    grants = granted(role_statements(deployment))

    assert set(grants) == EXPECTED_ACTIONS | (TRACING_ACTIONS if tracing else set())
    assert not [a for a in grants if "*" in a], "no wildcard action"


def test_every_resource_is_scoped_to_this_stack() -> None:
    deployment = run_program("dev")
    bucket = deployment.one("aws:s3/bucket:Bucket")["arn"]
    table = deployment.one("aws:dynamodb/table:Table")["arn"]
    queue = deployment.one("aws:sqs/queue:Queue", "-queue")["arn"]
    log_group = log_group_of(deployment, inference_function(deployment))["arn"]

    grants = granted(role_statements(deployment))

    assert grants["s3:GetObjectVersion"] == {f"{bucket}/uploads/*"}
    assert grants["s3:ListBucket"] == {bucket}
    for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"):
        assert grants[action] == {table}, action
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"):
        assert grants[action] == {queue}, action
    assert grants["logs:PutLogEvents"] == grants["logs:CreateLogStream"] == {f"{log_group}:*"}
    # The upload-prefix grant must not reach other keys of the bucket.
    (pattern,) = grants["s3:GetObjectVersion"]
    assert fnmatch.fnmatchcase(f"{bucket}/uploads/cam-1/a.jpg", pattern)
    assert not fnmatch.fnmatchcase(f"{bucket}/private/a.jpg", pattern)


def test_only_xray_gets_a_star_resource_because_aws_requires_it() -> None:
    grants = granted(role_statements(run_program("prod")))

    star = {action for action, resources in grants.items() if "*" in resources}

    assert star == TRACING_ACTIONS


def test_the_role_trusts_lambda_from_this_account_only() -> None:
    deployment = run_program("dev")
    for function in (inference_function(deployment), api_function(deployment)):
        trust = json.loads(role_of(deployment, function).inputs["assumeRolePolicy"])

        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    assert (
        role_of(deployment, inference_function(deployment))["arn"]
        != role_of(deployment, api_function(deployment))["arn"]
    )


def test_no_aws_managed_full_access_policy_anywhere() -> None:
    deployment = run_program("prod")

    for resource in deployment:
        text = json.dumps(resource.inputs, default=repr)  # assets (the API zip) as their repr
        assert "FullAccess" not in text, resource.name
        assert "arn:aws:iam::aws:policy/" not in text, resource.name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_api_role_reads_deletes_and_presigns_nothing_more(stack: str) -> None:
    deployment = run_program(stack)

    grants = granted(role_statements(deployment, api_function(deployment)))

    assert set(grants) == API_ACTIONS | (TRACING_ACTIONS if stack == "prod" else set())
    assert "dynamodb:Scan" not in grants and "dynamodb:PutItem" not in grants
    assert not [a for a in grants if "*" in a], "no wildcard action"


def test_the_api_role_signs_uploads_only_into_its_own_folder() -> None:
    deployment = run_program("dev")
    bucket = deployment.one("aws:s3/bucket:Bucket")["arn"]
    table = deployment.one("aws:dynamodb/table:Table")["arn"]
    function = api_function(deployment)
    log_group = log_group_of(deployment, function)["arn"]

    grants = granted(role_statements(deployment, function))

    (upload,) = grants["s3:PutObject"]
    assert upload == f"{bucket}/uploads/api/*"
    assert fnmatch.fnmatchcase(f"{bucket}/uploads/api/2026-11-25/x.jpg", upload)
    assert not fnmatch.fnmatchcase(f"{bucket}/uploads/cam-1/x.jpg", upload)
    assert grants["s3:GetObjectVersion"] == {f"{bucket}/uploads/*"}
    for action in ("dynamodb:Query", "dynamodb:GetItem", "dynamodb:DeleteItem", "dynamodb:UpdateItem"):
        assert grants[action] == {table}, action
    assert grants["logs:PutLogEvents"] == {f"{log_group}:*"}
