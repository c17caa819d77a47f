"""PredictionsTable: DynamoDB table for predictions, daily per-class counters and object claims.

The original key schema stays: partition key `PredictionDate`, sort key `ClassPredictionID`.
The function's other item types share the table under their own key prefixes (see
lambda_src/classifier/store.py): `COUNT#<class>` counters under each date, and one claim item per
object version under `OBJECT#<digest>`, which is what makes a version count exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

PARTITION_KEY = "PredictionDate"
SORT_KEY = "ClassPredictionID"
TTL_ATTRIBUTE = "expiration"
"""Items that carry this epoch-seconds attribute expire (idempotency records); others never do."""


def create_table_request(name: str) -> dict[str, object]:
    """The table's key schema as a CreateTable request, for emulators, tests and benchmarks."""
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [
            {"AttributeName": PARTITION_KEY, "KeyType": "HASH"},
            {"AttributeName": SORT_KEY, "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": PARTITION_KEY, "AttributeType": "S"},
            {"AttributeName": SORT_KEY, "AttributeType": "S"},
        ],
    }


@dataclass
class PredictionsTableArgs:
    protect: bool = False
    """DynamoDB deletion protection, plus Pulumi's protect and retain-on-delete."""


class PredictionsTable(pulumi.ComponentResource):
    table_name: pulumi.Output[str]
    table_arn: pulumi.Output[str]

    def __init__(self, name: str, args: PredictionsTableArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:PredictionsTable", name, None, opts)
        table = aws.dynamodb.Table(
            f"{name}-table",
            billing_mode="PAY_PER_REQUEST",
            hash_key=PARTITION_KEY,
            range_key=SORT_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=PARTITION_KEY, type="S"),
                aws.dynamodb.TableAttributeArgs(name=SORT_KEY, type="S"),
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            # The AWS managed key (aws/dynamodb): key use shows in CloudTrail, and the key policy
            # already admits principals allowed to use DynamoDB, so no kms:* grant is needed.
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            ttl=aws.dynamodb.TableTtlArgs(attribute_name=TTL_ATTRIBUTE, enabled=True),
            deletion_protection_enabled=args.protect,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect, retain_on_delete=args.protect),
        )
        self.table_name = table.name
        self.table_arn = table.arn
        self.register_outputs({"table_name": self.table_name, "table_arn": self.table_arn})
