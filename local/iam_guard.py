"""Least privilege, proven at run time: every AWS call checked against the declared role policy.

Installed in each function execution environment before the handler is imported. For each call
the function (or its queue poller, which AWS runs with the function's role) makes, the guard
works out the IAM action and the concrete resource ARN, evaluates them against the policy the
Pulumi program declares for the role (moto's IAM policy evaluator), records the use, and fails
the call loudly with AccessDenied when the policy does not allow it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from moto.iam.access_control import IAMPolicy, PermissionResult

ACCOUNT_ID = "123456789012"
MISSING_OBJECT_CODES = {"NoSuchKey", "NoSuchVersion", "404", "NotFound"}


class AccessDeniedByLocalIam(PermissionError):
    pass


class IamGuard:
    def __init__(self, policies: list[dict[str, Any]], region: str, usage_log: Path | None = None) -> None:
        for policy in policies:
            for statement in policy["Statement"]:
                unsupported = {"Condition", "NotAction", "NotResource", "NotPrincipal"} & set(statement)
                if unsupported:
                    raise ValueError(
                        f"local IAM check cannot evaluate {sorted(unsupported)} in statement "
                        f"{statement.get('Sid', statement)} faithfully; keep the function role unconditional "
                        "or extend local/iam_guard.py"
                    )
        self._policies = [IAMPolicy(json.dumps(p)) for p in policies]
        self.region = region
        self._usage_log = usage_log
        self._lock = threading.Lock()

    # -- evaluation ----------------------------------------------------------------------------
    def allows(self, action: str, resource: str) -> bool:
        results = [p.is_action_permitted(action, resource) for p in self._policies]
        return PermissionResult.DENIED not in results and PermissionResult.PERMITTED in results

    def check(self, service: str, operation: str, action: str, resource: str) -> bool:
        allowed = self.allows(action, resource)
        self._record({"call": f"{service}:{operation}", "action": action, "resource": resource, "allowed": allowed})
        return allowed

    def _record(self, entry: dict[str, Any]) -> None:
        if self._usage_log is None:
            return
        with self._lock, self._usage_log.open("a") as log:
            log.write(json.dumps({**entry, "pid": os.getpid()}) + "\n")

    # -- what a call needs -----------------------------------------------------------------------
    def required(self, service: str, operation: str, params: dict[str, Any]) -> Iterator[tuple[str, str]]:
        """(action, resource ARN) pairs IAM evaluates for one API call."""
        region, account = self.region, ACCOUNT_ID
        if service == "s3":
            bucket, key = params.get("Bucket", ""), params.get("Key", "")
            if operation in ("GetObject", "HeadObject"):
                yield (
                    ("s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"),
                    f"arn:aws:s3:::{bucket}/{key}",
                )
            elif operation in ("PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
                yield "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}"
            elif operation in ("ListObjectsV2", "ListObjects"):
                yield "s3:ListBucket", f"arn:aws:s3:::{bucket}"
            else:
                raise AccessDeniedByLocalIam(f"no IAM mapping for s3:{operation}; add one to local/iam_guard.py")
        elif service == "dynamodb":
            if operation in ("TransactWriteItems", "TransactGetItems"):
                verbs = {
                    "Put": "PutItem",
                    "Update": "UpdateItem",
                    "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem",
                    "Get": "GetItem",
                }
                for item in params.get("TransactItems", []):
                    (kind, body), *_ = item.items()
                    yield f"dynamodb:{verbs[kind]}", f"arn:aws:dynamodb:{region}:{account}:table/{body['TableName']}"
            elif operation in ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"):
                yield f"dynamodb:{operation}", f"arn:aws:dynamodb:{region}:{account}:table/{params['TableName']}"
            else:
                raise AccessDeniedByLocalIam(f"no IAM mapping for dynamodb:{operation}; add one to local/iam_guard.py")
        elif service == "sqs":
            name = str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
            action = {
                "DeleteMessageBatch": "DeleteMessage",
                "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
                "SendMessageBatch": "SendMessage",
            }.get(operation, operation)
            yield f"sqs:{action}", f"arn:aws:sqs:{region}:{account}:{name}"
        elif service == "logs":
            group, stream = params.get("logGroupName", ""), params.get("logStreamName", "")
            yield f"logs:{operation}", f"arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}"
        else:
            raise AccessDeniedByLocalIam(f"no IAM mapping for {service}:{operation}; add one to local/iam_guard.py")

    # -- botocore hooks --------------------------------------------------------------------------
    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        service, operation = model.service_model.service_name, model.name
        if context.get("is_presign_request") and (service, operation) == ("s3", "CreateBucket"):
            return  # botocore's way of building a presigned POST: checked in guarded_presigned_post
        for action, resource in self.required(service, operation, params):
            if not self.check(service, operation, action, resource):
                raise AccessDeniedByLocalIam(
                    f"local IAM check: the function role may not {action} on {resource} "
                    f"({service}:{operation}); the Pulumi program's role policy does not allow it"
                )
        if service == "s3":
            context["iam_guard_bucket"] = params.get("Bucket", "")

    def _after_s3_read(
        self, http_response: Any, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        """S3 answers 404 for a missing object only to callers allowed s3:ListBucket; others get 403."""
        code = parsed.get("Error", {}).get("Code")
        if http_response.status_code == 404 or code in MISSING_OBJECT_CODES:
            bucket = context.get("iam_guard_bucket", "")
            if not self.check("s3", model.name, "s3:ListBucket", f"arn:aws:s3:::{bucket}"):
                parsed["Error"] = {"Code": "AccessDenied", "Message": "Access Denied (no s3:ListBucket)"}

    def install(self, session: Any) -> None:
        """Register on one botocore session, before its clients exist."""
        session.register("before-parameter-build", self._before)
        session.register("after-call.s3.GetObject", self._after_s3_read)
        session.register("after-call.s3.HeadObject", self._after_s3_read)

    def install_everywhere(self) -> Callable[[], None]:
        """Guard every boto3 session this process creates, the default one included: the function
        makes fresh sessions of its own (after a SnapStart restore, for instance). Returns what
        undoes it (for tests that install a guard in their own process)."""
        import boto3
        import boto3.session
        import botocore.signers

        guard = self
        original_init = boto3.session.Session.__init__
        original_post = botocore.signers.generate_presigned_post

        def guarded_init(session: Any, *args: Any, **kwargs: Any) -> None:
            original_init(session, *args, **kwargs)
            guard.install(session._session)

        boto3.session.Session.__init__ = guarded_init  # type: ignore[method-assign,assignment]
        boto3.DEFAULT_SESSION = None  # the next default session is made, and guarded, on first use
        self._guard_presigned_posts()

        def uninstall() -> None:
            boto3.session.Session.__init__ = original_init  # type: ignore[method-assign]
            botocore.signers.generate_presigned_post = original_post
            boto3.DEFAULT_SESSION = None

        return uninstall

    def _guard_presigned_posts(self) -> None:
        """A presigned POST carries the signer's authority: S3 checks the signer's s3:PutObject on
        the key when the upload arrives. botocore's events never show the key, so check it here,
        on the method every S3 client class created from now on gets."""
        import botocore.signers

        guard, original = self, botocore.signers.generate_presigned_post

        def guarded_presigned_post(client: Any, Bucket: str, Key: str, *args: Any, **kwargs: Any) -> Any:  # noqa: N803
            resource = f"arn:aws:s3:::{Bucket}/{Key}"
            if not guard.check("s3", "PresignedPost", "s3:PutObject", resource):
                raise AccessDeniedByLocalIam(
                    f"local IAM check: the function role may not s3:PutObject on {resource} (presigned POST); "
                    "the Pulumi program's role policy does not allow it"
                )
            return original(client, Bucket, Key, *args, **kwargs)

        botocore.signers.generate_presigned_post = guarded_presigned_post  # type: ignore[assignment]


FUNCTION_USAGE = "iam-usage-[0-9]*.jsonl"
"""The inference function's environments (iam-usage-<n>.jsonl); the API's is iam-usage-api.jsonl."""


def read_usage(directory: Path, pattern: str = FUNCTION_USAGE) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for path in sorted(directory.glob(pattern)):
        entries += [json.loads(line) for line in path.read_text().splitlines() if line]
    return entries
