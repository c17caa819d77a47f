"""InferenceFunction: the container-image Lambda that classifies uploads, fed by the SQS queue.

Owns its least-privilege role, its log group and the event source mapping. With SnapStart on, a
version is published on every deploy and the mapping invokes it through the `live` alias:
SnapStart only applies to published versions, never to $LATEST.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import policies
from components.function_basics import LAMBDA_LOG_LEVELS, function_basics, json_logging

ARCHITECTURES = ("x86_64", "arm64")
ALIAS = "live"


@dataclass
class InferenceFunctionArgs:
    function_name: str
    """Explicit so the log group and the image's pull policy can name it before it exists."""
    image_uri: pulumi.Input[str]
    bucket_arn: pulumi.Input[str]
    upload_prefix: str
    table_arn: pulumi.Input[str]
    queue_arn: pulumi.Input[str]
    architecture: str = "x86_64"
    memory_mb: int = 7168
    timeout_seconds: int = 300
    ephemeral_storage_mb: int = 512
    environment: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    log_retention_days: int = 14
    log_level: str = "INFO"
    batch_size: int = 10
    batching_window_seconds: int = 0
    max_concurrency: int = 10
    reserved_concurrency: int | None = None
    tracing: bool = False
    snap_start: bool = False


class InferenceFunction(pulumi.ComponentResource):
    function_name: pulumi.Output[str]
    function_arn: pulumi.Output[str]
    invoke_target_arn: pulumi.Output[str]
    """What the queue invokes: the `live` alias with SnapStart, else the function."""
    role_arn: pulumi.Output[str]
    log_group_name: pulumi.Output[str]

    def __init__(self, name: str, args: InferenceFunctionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:InferenceFunction", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)

        basics = function_basics(
            name,
            self,
            function_name=args.function_name,
            log_retention_days=args.log_retention_days,
            policy=lambda log_group_arn: pulumi.Output.all(
                args.bucket_arn, args.table_arn, args.queue_arn, log_group_arn
            ).apply(
                lambda v: policies.function_policy(
                    bucket_arn=v[0],
                    upload_prefix=args.upload_prefix,
                    table_arn=v[1],
                    queue_arn=v[2],
                    log_group_arn=v[3],
                    tracing=args.tracing,
                )
            ),
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=basics.role.arn,
            package_type="Image",
            image_uri=args.image_uri,
            architectures=[args.architecture],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            ephemeral_storage=aws.lambda_.FunctionEphemeralStorageArgs(size=args.ephemeral_storage_mb),
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=args.environment),
            logging_config=json_logging(basics.log_group, args.log_level),
            reserved_concurrent_executions=args.reserved_concurrency,
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if args.tracing else "PassThrough"),
            snap_start=aws.lambda_.FunctionSnapStartArgs(apply_on="PublishedVersions") if args.snap_start else None,
            publish=args.snap_start,
            # The role's policy must exist before the first cold start writes logs or polls.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[basics.policy, basics.log_group]),
        )
        target_arn: pulumi.Output[str] = function.arn
        if args.snap_start:
            alias = aws.lambda_.Alias(
                f"{name}-alias",
                name=ALIAS,
                function_name=function.name,
                function_version=function.version,
                opts=child,
            )
            target_arn = alias.arn
        aws.lambda_.EventSourceMapping(
            f"{name}-queue-mapping",
            event_source_arn=args.queue_arn,
            function_name=target_arn,
            batch_size=args.batch_size,
            maximum_batching_window_in_seconds=args.batching_window_seconds,
            # Failed messages come back in batchItemFailures; the rest of the batch is deleted.
            function_response_types=["ReportBatchItemFailures"],
            scaling_config=aws.lambda_.EventSourceMappingScalingConfigArgs(maximum_concurrency=args.max_concurrency),
            opts=child,
        )

        self.function_name = function.name
        self.function_arn = function.arn
        self.invoke_target_arn = target_arn
        self.role_arn = basics.role.arn
        self.log_group_name = basics.log_group.name
        self.register_outputs(
            {
                "function_name": self.function_name,
                "function_arn": self.function_arn,
                "invoke_target_arn": self.invoke_target_arn,
                "role_arn": self.role_arn,
                "log_group_name": self.log_group_name,
            }
        )


def _validate(args: InferenceFunctionArgs) -> None:
    problems = []
    if not 1 <= len(args.function_name) <= 64:
        problems.append(f"function_name must be 1-64 characters, got {len(args.function_name)}")
    if args.architecture not in ARCHITECTURES:
        problems.append(f"architecture must be one of {', '.join(ARCHITECTURES)}")
    if not 128 <= args.memory_mb <= 10240:
        problems.append("memory_mb must be from 128 to 10240")
    if not 1 <= args.timeout_seconds <= 900:
        problems.append("timeout_seconds must be from 1 to 900")
    if not 512 <= args.ephemeral_storage_mb <= 10240:
        problems.append("ephemeral_storage_mb must be from 512 to 10240")
    if args.snap_start and args.ephemeral_storage_mb > 512:
        problems.append("snap_start allows at most 512 MB of ephemeral storage")
    if args.log_level not in LAMBDA_LOG_LEVELS:
        problems.append(f"log_level must be one of {', '.join(LAMBDA_LOG_LEVELS)}")
    if args.max_concurrency < 2:
        problems.append("max_concurrency must be at least 2 (the SQS poller's minimum)")
    if args.batch_size > 10 and args.batching_window_seconds < 1:
        problems.append("batch_size above 10 needs batching_window_seconds of at least 1")
    if problems:
        raise ValueError("InferenceFunction: " + "; ".join(problems))
