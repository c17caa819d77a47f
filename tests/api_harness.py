"""The results API's tests: HTTP API events, and predictions written by the function's own code."""

from __future__ import annotations

import base64
import copy
import json
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from classifier.events import UploadedObject
from classifier.records import CLASSIFIED, REJECTED, Verdict, build_record, object_digest
from results_api.config import ApiConfig
from results_api.results import ResultsService
from tests.conftest import EVENTS
from tests.function_harness import CLASSES, REGION, World

API_UPLOAD_PREFIX = "uploads/api/"


def api_event(method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> dict[str, Any]:
    """tests/events/api_request.json, pointed at another route: what API Gateway would send."""
    event = copy.deepcopy(json.loads((EVENTS / "api_request.json").read_text()))
    raw_query = urlencode(query or {})
    route = f"{method} {path}"
    event.update(routeKey=route, rawPath=path, rawQueryString=raw_query)
    event["requestContext"].update(routeKey=route)
    event["requestContext"]["http"].update(method=method, path=path)
    event.pop("queryStringParameters", None)
    if query:
        event["queryStringParameters"] = {k: str(v) for k, v in query.items()}
    if isinstance(body, bytes):  # not text: API Gateway passes it base64-encoded
        event["body"] = base64.b64encode(body).decode()
        event["isBase64Encoded"] = True
    elif body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        event["headers"]["content-type"] = "application/json"
    return event


def call(method: str, path: str, query: dict[str, Any] | None = None, body: Any = None) -> tuple[int, Any]:
    """Invoke the API's Lambda handler; (status, parsed JSON body or None)."""
    from results_api.app import lambda_handler

    response = lambda_handler(api_event(method, path, query, body), _Context())
    text = response.get("body") or ""
    return response["statusCode"], json.loads(text) if text else None


class _Context:
    function_name = "image-classifier-test-api"
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:image-classifier-test-api"
    aws_request_id = "b0b6f1c4-0c1d-4f6e-9e53-7d2c1e0a9f11"


def results_service(world: World) -> ResultsService:
    """The API's service over the world's table and bucket, with the world's clock."""
    from results_api.app import clients, configure

    config = ApiConfig(
        table_name=world.table,
        bucket_name=world.bucket,
        class_names=CLASSES,
        upload_prefix=API_UPLOAD_PREFIX,
        max_upload_bytes=5 * 1024 * 1024,
        content_types=("image/jpeg", "image/png"),
        url_ttl_seconds=120,
    )
    _, s3 = clients(REGION)  # presigning as the function does it (SigV4)
    return configure(ResultsService(config, world.dynamodb, s3, clock=world.clock, sleep=lambda _: None))


def record_prediction(world: World, key: str, class_name: str, when: datetime | None = None) -> str:
    """Upload an object and record it the way the function does (store + build_record), with the
    verdict chosen by the test; returns the prediction id."""
    version = world.s3.put_object(Bucket=world.bucket, Key=key, Body=b"\xff\xd8 not really a jpeg")["VersionId"]
    obj = UploadedObject(world.bucket, key, version, 20, None, None)
    moment = (when or world.clock()).astimezone(ZoneInfo(world.config.timezone))
    if class_name == REJECTED:
        verdict = Verdict(REJECTED, REJECTED, reason="NOT_AN_IMAGE", detail="cannot identify image file")
    else:
        others = [c for c in CLASSES if c != class_name]
        verdict = Verdict(CLASSIFIED, class_name, 0.8, {class_name: 0.8, others[0]: 0.15, others[1]: 0.05})

    def build(count: int) -> dict[str, Any]:
        return build_record(obj, verdict, when=moment, count=count, region=REGION, model_version="test")

    digest = object_digest(obj)
    world.store.record(digest, moment.date().isoformat(), verdict.class_name, build)
    return digest
