"""The table's key layout, shared by the inference function and the results API.

Standard library only and free of other `classifier` imports: the API's zip package ships this
module (with the package's empty `__init__`) and nothing else of the inference function.

| kind       | PredictionDate       | ClassPredictionID     |
|------------|----------------------|-----------------------|
| prediction | 2026-11-25           | FAW#<object digest>   |
| rejection  | 2026-11-25           | REJECTED#<digest>     |
| counter    | 2026-11-25           | COUNT#FAW             |
| claim      | OBJECT#<digest>      | CLAIM                 |
"""

from __future__ import annotations

import re

CLASSIFIED = "CLASSIFIED"
REJECTED = "REJECTED"
DELETED = "DELETED"
"""A claim's status once the API deleted its record: the version stays claimed, so a late
redelivery of its event cannot bring the prediction back."""
COUNT_PREFIX = "COUNT#"
CLAIM_PREFIX = "OBJECT#"
CLAIM_SORT_KEY = "CLAIM"
DIGEST = re.compile(r"^[0-9a-f]{32}$")
"""A prediction id: the first 32 hex digits of the object version's SHA-256 (records.object_digest)."""


def claim_key(digest: str) -> dict[str, str]:
    return {"PredictionDate": f"{CLAIM_PREFIX}{digest}", "ClassPredictionID": CLAIM_SORT_KEY}


def counter_key(date: str, counter: str) -> dict[str, str]:
    """The day's counter for a class, or for REJECTED."""
    return {"PredictionDate": date, "ClassPredictionID": f"{COUNT_PREFIX}{counter}"}


def counter_of(record_id: str) -> str:
    """The counter a record's sort key (`FAW#<digest>`, `REJECTED#<digest>`) counts under."""
    return record_id.split("#", 1)[0]
