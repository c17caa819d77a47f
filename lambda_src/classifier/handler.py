"""Lambda entry point: SQS batches of S3 `Object Created` events -> the core -> partial batch response.

The model and AWS clients are created once per execution environment, at init: with SnapStart
the snapshot then holds a loaded, warmed-up model. What must differ per restored environment is
renewed by the runtime hooks below: AWS clients (their connections and credentials belong to the
snapshotting environment) and the random generator's seed (used for retry jitter). Tests and the
local cloud call `configure()` with their own service instead.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import replace
from typing import Any

import boto3
import numpy as np
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from snapshot_restore_py import register_after_restore, register_before_snapshot

from classifier.config import FunctionConfig
from classifier.core import ClassificationService, Outcome
from classifier.events import MalformedEvent, UploadedObject, from_message_body
from classifier.model import load_classifier
from classifier.store import PredictionStore

logger = Logger()
metrics = Metrics()
processor = BatchProcessor(event_type=EventType.SQS)

_service: ClassificationService | None = None


def _region() -> str:
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or "us-east-1"


def _clients(table_name: str, region: str) -> tuple[Any, PredictionStore]:
    """New AWS clients (new connections, the session's current credentials)."""
    # Standard retry mode backs off on throttling; the short timeouts turn a stuck call into a
    # retryable failure long before the function's own timeout.
    client_config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
    session = boto3.session.Session(region_name=region)
    s3 = session.client("s3", config=client_config)
    return s3, PredictionStore(table_name, session.client("dynamodb", config=client_config))


def build_service(config: FunctionConfig | None = None) -> ClassificationService:
    """The production wiring: config from the environment, boto3 clients, the baked-in model."""
    config = config or FunctionConfig.from_environment()
    region = _region()
    s3, store = _clients(config.table_name, region)
    return ClassificationService(
        config=config,
        s3=s3,
        store=store,
        classifier=load_classifier(config.model_dir, config.inference_runtime, config.class_names),
        region=region,
    )


def configure(service: ClassificationService | None = None) -> ClassificationService:
    """Install the service the handler uses (built from the environment when none is given)."""
    global _service
    _service = service or build_service()
    return _service


def _before_snapshot() -> None:
    """Run the model once, so the snapshot holds an interpreter whose first call is already paid."""
    if _service is not None:
        shape = (1, *_service.classifier.metadata.input_shape)
        _service.classifier.predict(np.zeros(shape, dtype=np.uint8))


def _after_restore() -> None:
    """Every restored environment gets its own clients and its own random seed."""
    global _service
    random.seed(os.urandom(16))
    if _service is not None:
        s3, store = _clients(_service.config.table_name, _service.region)
        _service = replace(_service, s3=s3, store=store)


register_before_snapshot(_before_snapshot)
register_after_restore(_after_restore)

if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") and os.environ.get("CLASSIFIER_LAZY_INIT") != "1":
    configure()  # init phase: load the model before the first event (and before a snapshot)


def _parse(record: dict[str, Any]) -> UploadedObject | MalformedEvent:
    try:
        return from_message_body(record.get("body", ""))
    except MalformedEvent as err:
        return err


def _emit_metrics(outcome: Outcome) -> None:
    if outcome.failed:
        metrics.add_metric(name="Failed", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name=outcome.status.title(), unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ImageLatency", unit=MetricUnit.Milliseconds, value=round(outcome.seconds * 1000, 2))
    if outcome.reason:
        with single_metric(
            name="RejectedByReason", unit=MetricUnit.Count, value=1, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension(name="reason", value=outcome.reason)


def _log(outcome: Outcome) -> None:
    logger.set_correlation_id(outcome.obj.key)
    fields = {"bucket": outcome.obj.bucket, "version_id": outcome.obj.version_id, "status": outcome.status}
    if outcome.failed:
        logger.warning("upload failed; SQS will redeliver it", extra={**fields, "error": repr(outcome.error)})
    elif outcome.record is not None:
        record = outcome.record
        fields |= {
            k: record.get(k) for k in ("ClassName", "ConfidenceScore", "Count_ClassName", "Reason") if k in record
        }
        logger.info("upload recorded", extra=fields)
    logger.set_correlation_id(None)


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    service = _service or configure()
    if "Records" not in event and event.get("source") == "aws.s3":
        # A bare EventBridge event: wrap it as a one-message batch.
        event = {
            "Records": [{"messageId": event.get("id", "direct"), "body": json.dumps(event), "eventSource": "aws:sqs"}]
        }

    parsed = {record["messageId"]: _parse(record) for record in event.get("Records", [])}
    objects = {mid: obj for mid, obj in parsed.items() if isinstance(obj, UploadedObject)}
    outcomes = dict(zip(objects, service.process(list(objects.values())), strict=True))
    for outcome in outcomes.values():
        _emit_metrics(outcome)
        _log(outcome)

    def record_handler(record: SQSRecord) -> str:
        outcome = outcomes.get(record.message_id)
        if outcome is None:
            error = parsed[record.message_id]
            logger.error("not an S3 Object Created event; leaving it to the DLQ", extra={"error": str(error)})
            raise error if isinstance(error, Exception) else MalformedEvent("unparsed")
        if outcome.error is not None:
            raise outcome.error
        return str(outcome.status)

    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
