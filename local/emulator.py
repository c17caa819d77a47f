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
