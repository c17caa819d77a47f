"""What every function of the stack starts from: a role only Lambda in this account can assume,
the function's own log group, an inline policy built from data, and JSON logging into that group.

Children are named `<name>-role`, `<name>-logs`, `<name>-policy` under the calling component.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies

LAMBDA_LOG_LEVELS = {"DEBUG": "DEBUG", "INFO": "INFO", "WARNING": "WARN", "ERROR": "ERROR"}


@dataclass
class FunctionBasics:
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    policy: aws.iam.RolePolicy


def function_basics(
    name: str,
    parent: pulumi.Resource,
    *,
    function_name: str,
    log_retention_days: int,
    policy: Callable[[pulumi.Output[str]], pulumi.Output[policies.PolicyDocument]],
) -> FunctionBasics:
    """`policy` turns the log group's ARN into the role's policy document."""
    child = pulumi.ResourceOptions(parent=parent)
    identity = aws.get_caller_identity_output()
    role = aws.iam.Role(
        f"{name}-role",
        description=f"Runs {function_name}",
        assume_role_policy=identity.account_id.apply(
            lambda account: json.dumps(policies.assume_role_policy("lambda.amazonaws.com", account))
        ),
        opts=child,
    )
    log_group = aws.cloudwatch.LogGroup(
        f"{name}-logs",
        name=f"/aws/lambda/{function_name}",
        retention_in_days=log_retention_days,
        opts=child,
    )
    role_policy = aws.iam.RolePolicy(
        f"{name}-policy",
        role=role.id,
        policy=policy(log_group.arn).apply(json.dumps),
        opts=child,
    )
    return FunctionBasics(role, log_group, role_policy)


def json_logging(log_group: aws.cloudwatch.LogGroup, log_level: str) -> aws.lambda_.FunctionLoggingConfigArgs:
    return aws.lambda_.FunctionLoggingConfigArgs(
        log_format="JSON",
        log_group=log_group.name,
        # Lambda's level names: WARN, not Python's WARNING.
        application_log_level=LAMBDA_LOG_LEVELS[log_level],
        system_log_level="INFO" if log_level == "DEBUG" else "WARN",
    )
