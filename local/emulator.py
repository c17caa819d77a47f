"""Making moto behave like AWS where the pipeline's correctness depends on it.

AWS executes each request atomically: one TransactWriteItems, one conditional PutItem. moto's
backends are plain Python objects with no locking, and its transaction handler snapshots and
restores whole tables, so two requests on two threads can interleave inside one another and
break the very guarantees the function relies on. Serialising requests (one at a time, as a
single DynamoDB partition would order them) restores per-request atomicity without hiding any
race *between* requests, which is where the function's own concurrency logic lives.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

_LOCK = threading.RLock()
_installed = False


def serialize_in_process_requests() -> None:
    """Make every in-process moto request (mock_aws) atomic. Idempotent."""
    global _installed
    if _installed:
        return
    original: Callable[..., Any] = BotocoreStubber.process_request

    @functools.wraps(original)
    def atomic(self: BotocoreStubber, request: Any) -> Any:
        with _LOCK:
            return original(self, request)

    BotocoreStubber.process_request = atomic  # type: ignore[method-assign]
    transactions_cost_what_they_touch()
    _installed = True


def conditions_met(conditions: dict[str, dict[str, Any]], context: dict[str, str]) -> bool:
    """IAM condition semantics for the operators our policies use; a key absent from the request
    context leaves the condition unmet."""
    import fnmatch

    for operator, pairs in conditions.items():
        for key, expected in pairs.items():
            if key not in context:
                return False
            values = [str(v) for v in (expected if isinstance(expected, list) else [expected])]
            actual = context[key]
            if operator == "Bool":
                met = actual.lower() in {v.lower() for v in values}
            elif operator in ("StringEquals", "ArnEquals"):
                met = actual in values
            elif operator in ("StringLike", "ArnLike"):
                met = any(fnmatch.fnmatchcase(actual, v) for v in values)
            else:
                raise NotImplementedError(f"local policy evaluation does not know the {operator} operator")
            if not met:
                return False
    return True


def evaluate_statements(document: dict[str, Any], action: str, resource: str, context: dict[str, str]) -> Any:
    """moto's statement matching (actions, resources, principal "*"), with conditions evaluated
    here: moto treats an unmet condition as an explicit Deny whatever the statement's effect, and
    ignores every operator but StringEquals."""
    from moto.iam.access_control import IAMPolicyStatement, PermissionResult

    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    results = []
    for statement in statements:
        if "Condition" in statement:
            if not conditions_met(statement["Condition"], context):
                continue  # the statement does not apply to this request
            statement = {k: v for k, v in statement.items() if k != "Condition"}
        results.append(IAMPolicyStatement(statement).is_action_permitted(action, resource))
    if PermissionResult.DENIED in results:
        return PermissionResult.DENIED
    return PermissionResult.PERMITTED if PermissionResult.PERMITTED in results else PermissionResult.NEUTRAL


def evaluate_bucket_policy_conditions(secure_transport: bool = True) -> None:
    """Let moto's S3 apply a bucket policy's conditions instead of misreading them.

    moto checks the bucket policy on object requests without any request context, so the TLS-only
    statement (Deny s3:* when aws:SecureTransport is false) would deny every request. Here the
    check gets the request's `aws:SecureTransport`: the local endpoint listens on loopback only,
    where it stands in for S3's TLS endpoint, so its requests count as secure transport.
    Idempotent.
    """
    import json

    from moto.s3.models import FakeBucket

    context = {"aws:SecureTransport": "true" if secure_transport else "false"}

    def get_permission(self: FakeBucket, action: str, resource: str) -> Any:
        from moto.iam.access_control import PermissionResult

        if self.policy is None:
            return PermissionResult.NEUTRAL
        return evaluate_statements(json.loads(self.policy.decode()), action, resource, context)

    FakeBucket.get_permission = get_permission  # type: ignore[method-assign]


def transactions_cost_what_they_touch() -> None:
    """Make moto's TransactWriteItems cost what DynamoDB's does: proportional to its items.

    moto backs up every table a transaction names with a deep copy before applying it, so each
    transaction costs time proportional to the whole table, and any benchmark of "per-image time
    with 50k predictions stored" would measure moto, not the function. Here only the items the
    transaction touches are saved, and restored if it fails; the outcome is the same. Idempotent.
    """
    import copy
    from unittest import mock

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    if getattr(DynamoDBBackend.transact_write_items, "_touched_items_only", False):
        return
    original = DynamoDBBackend.transact_write_items
    real_deepcopy = copy.deepcopy

    def no_table_copies(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else real_deepcopy(value, memo)

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        saved = []
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.get_table(op["TableName"])
            key = op.get("Key") or {
                name: op["Item"][name]
                for name in (table.hash_key_attr, table.range_key_attr)
                if name and name in op["Item"]
            }
            hash_key, range_key = self.get_keys_value(table, key)
            current = table.get_item(hash_key, range_key)
            saved.append(
                (table, hash_key, range_key, real_deepcopy(current.to_json()["Attributes"]) if current else None)
            )
        try:
            with mock.patch.object(copy, "deepcopy", no_table_copies):
                original(self, transact_items)
        except Exception:
            for table, hash_key, range_key, attributes in reversed(saved):
                table.delete_item(hash_key, range_key)
                if attributes is not None:
                    table.put_item(attributes)
            raise

    transact_write_items._touched_items_only = True  # type: ignore[attr-defined]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


# Form fields a POST upload may carry without a policy condition (S3's browser-upload rules).
_UNCONDITIONED_FIELDS = {"policy", "file", "x-amz-signature", "signature", "awsaccesskeyid"}


def post_policy_problem(
    form: dict[str, str], bucket: str, size: int, now: datetime | None = None
) -> tuple[int, str, str] | None:
    """Why S3 would refuse a browser-style POST upload, as (HTTP status, error code, message);
    None when its signed policy allows it. Signatures are not checked (moto checks none)."""
    import base64
    import json

    fields = {k.lower(): v for k, v in form.items()}
    if "policy" not in fields:
        return 403, "AccessDenied", "a POST upload to a private bucket needs a signed policy"
    try:
        policy = json.loads(base64.b64decode(fields["policy"]))
        expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S%z")
        conditions = policy["conditions"]
    except (ValueError, KeyError, TypeError):
        return 400, "InvalidPolicyDocument", "Invalid Policy: Invalid JSON."
    if (now or datetime.now(UTC)) >= expiration:
        return 403, "AccessDenied", "Invalid according to Policy: Policy expired."
    values = {**fields, "bucket": bucket}
    covered = set()
    for condition in conditions:
        if isinstance(condition, dict):
            ((name, expected),) = condition.items()
            operator, name = "eq", name.lower()
        elif condition[0] == "content-length-range":
            low, high = int(condition[1]), int(condition[2])
            if size > high:
                return 400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size"
            if size < low:
                return 400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size"
            continue
        else:
            operator, name, expected = condition[0], condition[1].lstrip("$").lower(), condition[2]
        covered.add(name)
        actual = values.get(name, "")
        if not (actual == expected if operator == "eq" else actual.startswith(expected)):
            return (
                403,
                "AccessDenied",
                f'Invalid according to Policy: Policy Condition failed: ["{operator}", "${name}", "{expected}"]',
            )
    extra = [
        name
        for name in fields
        if name not in covered and name not in _UNCONDITIONED_FIELDS and not name.startswith("x-ignore-")
    ]
    if extra:
        return 403, "AccessDenied", f"Invalid according to Policy: Extra input fields: {', '.join(sorted(extra))}"
    return None


def enforce_post_policies() -> None:
    """Make moto's S3 hold browser-style POST uploads to their signed policy, as S3 does: the
    results API's size and Content-Type limits live in that policy, and moto ignores it. Idempotent."""
    from moto.s3.responses import S3Response

    original = S3Response._bucket_response_post
    if getattr(original, "_policy_enforced", False):
        return

    def bucket_response_post(self: S3Response, request: Any, bucket_name: str) -> Any:
        form = {k: v for k, v in self.form_data.items() if k != "file"} if self.form_data else {}
        if "key" in form:  # a browser-style upload (not a multi-object delete)
            size = len(self.raw_body or b"")
            problem = post_policy_problem(form, bucket_name, size)
            if problem is not None:
                status, code, message = problem
                body = f"<?xml version='1.0'?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
                return status, {"Content-Type": "application/xml"}, body
        return original(self, request, bucket_name)

    bucket_response_post._policy_enforced = True  # type: ignore[attr-defined]
    S3Response._bucket_response_post = bucket_response_post  # type: ignore[method-assign]
