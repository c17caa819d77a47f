"""IAM and resource policy documents, built from data.

Pure functions of resolved ARNs and names, so the components (through `Output.apply`), the tests
and the local cloud's IAM check all read the very same documents.
"""

from __future__ import annotations

from typing import Any

PolicyDocument = dict[str, Any]

# What the inference function does, action by action (see lambda_src): read the uploaded object
# version; read its claim and the day's counter, then write claim, counter and record in one
# TransactWriteItems, which IAM checks as the per-item actions (Put -> PutItem, Update ->
# UpdateItem); the SQS event source mapping receives, deletes and reads queue attributes with
# the function's role; the runtime writes logs to the function's own log group.
# The bucket is versioned from birth, so every event names a version and every read is a
# versioned GET (s3:GetObjectVersion); plain s3:GetObject is never needed.
FUNCTION_S3_ACTIONS = ("s3:GetObjectVersion",)
# Without ListBucket, S3 answers 403 instead of 404 for an object or version that no longer
# exists, and the function could not tell "deleted before processing" (record REJECTED) from a
# permissions problem (retry). The bucket holds only uploads, so listing reveals nothing else.
FUNCTION_BUCKET_ACTIONS = ("s3:ListBucket",)
FUNCTION_TABLE_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
)
FUNCTION_QUEUE_ACTIONS = (
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
)
FUNCTION_LOG_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
# X-Ray's write APIs have no resource-level permissions: AWS requires Resource "*" for them.
TRACING_ACTIONS = ("xray:PutTelemetryRecords", "xray:PutTraceSegments")


def statement(sid: str, actions: tuple[str, ...], resources: list[str], **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def document(*statements: dict[str, Any]) -> PolicyDocument:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def assume_role_policy(service: str, account_id: str) -> PolicyDocument:
    """Trust policy for a service role; `aws:SourceAccount` keeps other accounts' resources of
    that service from using it (confused deputy)."""
    return document(
        {
            "Sid": "AssumedByService",
            "Effect": "Allow",
            "Principal": {"Service": service},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        }
    )


def deny_insecure_transport(resources: list[str], actions: str = "s3:*") -> dict[str, Any]:
    """The usual TLS-only guard: deny every request that did not arrive over HTTPS."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(bucket_arn: str) -> PolicyDocument:
    return document(deny_insecure_transport([bucket_arn, f"{bucket_arn}/*"]))


def queue_from_rule_policy(queue_arn: str, rule_arn: str) -> PolicyDocument:
    """Let exactly one EventBridge rule send to a queue, over TLS only."""
    return document(
        {
            "Sid": "AllowUploadRule",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue_arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        },
        deny_insecure_transport([queue_arn], actions="sqs:*"),
    )


def function_policy(
    *,
    bucket_arn: str,
    upload_prefix: str,
    table_arn: str,
    queue_arn: str,
    log_group_arn: str,
    tracing: bool,
) -> PolicyDocument:
    """The inference function's whole permission set, each statement scoped to this stack."""
    statements = [
        statement("ReadUploads", FUNCTION_S3_ACTIONS, [f"{bucket_arn}/{upload_prefix}*"]),
        statement("TellMissingUploads", FUNCTION_BUCKET_ACTIONS, [bucket_arn]),
        statement("RecordPredictions", FUNCTION_TABLE_ACTIONS, [table_arn]),
        statement("ConsumeUploadQueue", FUNCTION_QUEUE_ACTIONS, [queue_arn]),
        # "<group arn>:*" covers the group's streams ("<group arn>:log-stream:<name>") and no
        # other group: Lambda's own documented scoping for a function's log group.
        statement("WriteOwnLogs", FUNCTION_LOG_ACTIONS, [f"{log_group_arn}:*"]),
    ]
    if tracing:
        statements.append(statement("WriteTraces", TRACING_ACTIONS, ["*"]))
    return document(*statements)


# What the results API function does (lambda_src/results_api): presign POSTs for new keys under
# its own folder of the upload prefix (the signature carries the role's identity, so the role must be allowed the
# upload it signs) and GETs of classified image versions (versioned, so s3:GetObjectVersion);
# read records and counters by key (GetItem, Query); delete a record in a TransactWriteItems that
# also decrements its counter and marks its claim (per-item actions: DeleteItem, UpdateItem).
API_UPLOAD_ACTIONS = ("s3:PutObject",)
API_IMAGE_ACTIONS = ("s3:GetObjectVersion",)
API_TABLE_ACTIONS = (
    "dynamodb:DeleteItem",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:UpdateItem",
)


def api_policy(
    *,
    bucket_arn: str,
    upload_prefix: str,
    api_upload_prefix: str,
    table_arn: str,
    log_group_arn: str,
    tracing: bool,
) -> PolicyDocument:
    """The results API function's whole permission set, each statement scoped to this stack."""
    statements = [
        statement("PresignUploads", API_UPLOAD_ACTIONS, [f"{bucket_arn}/{api_upload_prefix}*"]),
        statement("PresignImageReads", API_IMAGE_ACTIONS, [f"{bucket_arn}/{upload_prefix}*"]),
        statement("ReadAndDeletePredictions", API_TABLE_ACTIONS, [table_arn]),
        statement("WriteOwnLogs", FUNCTION_LOG_ACTIONS, [f"{log_group_arn}:*"]),
    ]
    if tracing:
        statements.append(statement("WriteTraces", TRACING_ACTIONS, ["*"]))
    return document(*statements)


def ecr_lambda_pull_policy(account_id: str, partition: str, region: str, function_prefix: str) -> PolicyDocument:
    """Let Lambda pull the image for this stack's functions only (Lambda would otherwise edit the
    repository policy itself on the first deploy, which needs ecr:SetRepositoryPolicy)."""
    return document(
        {
            "Sid": "LambdaPullForThisStack",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {
                "StringLike": {
                    "aws:sourceArn": f"arn:{partition}:lambda:{region}:{account_id}:function:{function_prefix}*"
                }
            },
        }
    )
