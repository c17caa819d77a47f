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
    _installed = True
