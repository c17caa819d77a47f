"""PredictionsTable under mocks: the original keys, on demand, recoverable, encrypted, TTL."""

from __future__ import annotations

from components.predictions_table import PredictionsTable, PredictionsTableArgs
from local.program import run


def test_keeps_the_original_key_schema_and_secure_defaults() -> None:
    table = run(lambda: PredictionsTable("preds", PredictionsTableArgs())).one("aws:dynamodb/table:Table").inputs

    assert (table["hashKey"], table["rangeKey"]) == ("PredictionDate", "ClassPredictionID")
    assert {(a["name"], a["type"]) for a in table["attributes"]} == {
        ("PredictionDate", "S"),
        ("ClassPredictionID", "S"),
    }
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["serverSideEncryption"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": "expiration", "enabled": True}
    assert table["deletionProtectionEnabled"] is False


def test_protected_table_has_deletion_protection_and_is_kept_by_pulumi() -> None:
    table = run(lambda: PredictionsTable("preds", PredictionsTableArgs(protect=True))).one("aws:dynamodb/table:Table")

    assert table.inputs["deletionProtectionEnabled"] is True
    assert (table.protect, table.retain_on_delete) == (True, True)
