"""EventRouting: S3 `Object Created` events for the upload prefix -> EventBridge rule -> SQS.

The queue absorbs bursts and lets the function classify in batches. Two dead-letter queues keep
failures apart: `delivery-dlq` holds events EventBridge could not deliver to the queue, and
`processing-dlq` holds messages the function failed `max_receive_count` times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import policies

FOURTEEN_DAYS = 14 * 24 * 3600


def upload_event_pattern(bucket_name: str, upload_prefix: str) -> dict[str, object]:
    """The rule's pattern: objects created in this bucket under the upload prefix."""
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket_name]},
            "object": {"key": [{"prefix": upload_prefix}]},
        },
    }


@dataclass
class EventRoutingArgs:
    bucket_name: pulumi.Input[str]
    upload_prefix: str
    visibility_timeout_seconds: int
    max_receive_count: int = 5
    retry_attempts: int = 185
    """EventBridge's attempts to deliver one event to the queue (0-185)."""
    max_event_age_seconds: int = 86400
    message_retention_seconds: int = 4 * 24 * 3600


class EventRouting(pulumi.ComponentResource):
    rule_arn: pulumi.Output[str]
    queue_arn: pulumi.Output[str]
    queue_url: pulumi.Output[str]
    dlq_arn: pulumi.Output[str]
    dlq_url: pulumi.Output[str]
    delivery_dlq_url: pulumi.Output[str]

    def __init__(self, name: str, args: EventRoutingArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:EventRouting", name, None, opts)
        if not 1 <= args.max_receive_count <= 1000:
            raise ValueError("EventRouting: max_receive_count must be from 1 to 1000")
        if not 0 <= args.visibility_timeout_seconds <= 43200:
            raise ValueError("EventRouting: visibility_timeout_seconds must be from 0 to 43200")
        if args.message_retention_seconds > FOURTEEN_DAYS:
            raise ValueError("EventRouting: SQS keeps messages at most 14 days")
        child = pulumi.ResourceOptions(parent=self)

        # SSE-SQS (queue-managed keys): encrypted at rest, and EventBridge can send to it without
        # a KMS key policy, which an SSE-KMS queue with the AWS managed key would not allow.
        processing_dlq = aws.sqs.Queue(
            f"{name}-processing-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=FOURTEEN_DAYS,
            opts=child,
        )
        queue = aws.sqs.Queue(
            f"{name}-queue",
            sqs_managed_sse_enabled=True,
            visibility_timeout_seconds=args.visibility_timeout_seconds,
            message_retention_seconds=args.message_retention_seconds,
            redrive_policy=processing_dlq.arn.apply(
                lambda arn: json.dumps({"deadLetterTargetArn": arn, "maxReceiveCount": args.max_receive_count})
            ),
            opts=child,
        )
        aws.sqs.RedriveAllowPolicy(
            f"{name}-processing-dlq-sources",
            queue_url=processing_dlq.url,
            redrive_allow_policy=queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        delivery_dlq = aws.sqs.Queue(
            f"{name}-delivery-dlq",
            sqs_managed_sse_enabled=True,
            message_retention_seconds=FOURTEEN_DAYS,
            opts=child,
        )

        rule = aws.cloudwatch.EventRule(
            f"{name}-rule",
            description=f"Objects created under {args.upload_prefix}",
            event_pattern=pulumi.Output.from_input(args.bucket_name).apply(
                lambda bucket: json.dumps(upload_event_pattern(bucket, args.upload_prefix))
            ),
            opts=child,
        )
        queue_policy = aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=queue.url,
            policy=pulumi.Output.all(queue.arn, rule.arn).apply(
                lambda v: json.dumps(policies.queue_from_rule_policy(v[0], v[1]))
            ),
            opts=child,
        )
        delivery_dlq_policy = aws.sqs.QueuePolicy(
            f"{name}-delivery-dlq-policy",
            queue_url=delivery_dlq.url,
            policy=pulumi.Output.all(delivery_dlq.arn, rule.arn).apply(
                lambda v: json.dumps(policies.queue_from_rule_policy(v[0], v[1]))
            ),
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-target",
            rule=rule.name,
            arn=queue.arn,
            retry_policy=aws.cloudwatch.EventTargetRetryPolicyArgs(
                maximum_retry_attempts=args.retry_attempts,
                maximum_event_age_in_seconds=args.max_event_age_seconds,
            ),
            dead_letter_config=aws.cloudwatch.EventTargetDeadLetterConfigArgs(arn=delivery_dlq.arn),
            # Events sent before the queue admits the rule would land in the delivery DLQ.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[queue_policy, delivery_dlq_policy]),
        )

        self.rule_arn = rule.arn
        self.queue_arn = queue.arn
        self.queue_url = queue.url
        self.dlq_arn = processing_dlq.arn
        self.dlq_url = processing_dlq.url
        self.delivery_dlq_url = delivery_dlq.url
        self.register_outputs(
            {
                "rule_arn": self.rule_arn,
                "queue_arn": self.queue_arn,
                "queue_url": self.queue_url,
                "dlq_arn": self.dlq_arn,
                "dlq_url": self.dlq_url,
                "delivery_dlq_url": self.delivery_dlq_url,
            }
        )
