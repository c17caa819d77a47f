"""The local API gateway: the results API's routes on loopback, called the way API Gateway calls Lambda.

Each request becomes an HTTP API payload-2.0 event for the route it matches (no match: 404, as
API Gateway answers); the response the handler returns becomes the HTTP response. The function
runs in a process of its own, with its declared environment, under its role's policy (every AWS
call passes the local IAM check), one request at a time like one execution environment.

Not emulated: authentication (IAM or JWT is API Gateway's job; this listens on loopback only),
throttling and CORS preflight (the gateway answers OPTIONS itself).
"""

from __future__ import annotations

import base64
import importlib
import json
import multiprocessing
import os
import re
import sys
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from local.deploy import ApiSpec
from local.runner import LambdaContext, lambda_environment
from local.server import HOST

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ACCOUNT_ID = "123456789012"
TEXT_TYPES = ("application/json", "text/", "application/xml")


@dataclass(frozen=True)
class Route:
    key: str  # "GET /predictions/{prediction_id}"
    method: str
    pattern: re.Pattern[str]

    @classmethod
    def parse(cls, key: str) -> Route:
        method, path = key.split(" ", 1)
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(path))
        return cls(key, method, re.compile(f"^{regex}$"))

    def match(self, method: str, path: str) -> dict[str, str] | None:
        found = self.pattern.match(path) if method == self.method else None
        return found.groupdict() if found else None


def to_event(
    method: str, path: str, query: str, headers: dict[str, str], body: bytes, route: str, params: dict[str, str]
) -> dict[str, Any]:
    """A payload-2.0 event, as API Gateway builds it for a Lambda proxy integration."""
    now = datetime.now(UTC)
    query_parameters: dict[str, str] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        # Repeated parameters arrive joined with commas.
        query_parameters[name] = f"{query_parameters[name]},{value}" if name in query_parameters else value
    content_type = headers.get("content-type", "")
    text = not body or content_type.startswith(TEXT_TYPES)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route,
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", HOST),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": not text,
    }
    if query_parameters:
        event["queryStringParameters"] = query_parameters
    if params:
        event["pathParameters"] = params
    if body:
        event["body"] = body.decode() if text else base64.b64encode(body).decode()
    return event


def from_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body from what the handler returned (payload 2.0 rules)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        # A bare value: API Gateway sends it as a 200 JSON body.
        return 200, {"content-type": "application/json"}, json.dumps(result).encode()
    headers = {k.lower(): str(v) for k, v in (result.get("headers") or {}).items()}
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return int(result["statusCode"]), headers, body


@dataclass
class GatewayConfig:
    spec: ApiSpec
    endpoint_url: str
    region: str
    port: int
    run_dir: str


def gateway_main(config: GatewayConfig, reports: Any) -> None:
    """The API function's execution environment, with an HTTP front: serves until terminated."""
    log = (Path(config.run_dir) / "api.log").open("ab", buffering=0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    spec = config.spec
    os.environ.update(
        lambda_environment(spec.environment, spec.name, spec.memory_mb, config.endpoint_url, config.region)
    )
    sys.path[:0] = [str(PROJECT_ROOT / "lambda_src"), str(PROJECT_ROOT)]
    try:
        from werkzeug.serving import make_server
        from werkzeug.wrappers import Request, Response

        from local.iam_guard import IamGuard

        IamGuard(spec.role_policies, config.region, Path(config.run_dir) / "iam-usage-api.jsonl").install_everywhere()
        module_name, _, function_name = spec.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as err:
        reports.put({"kind": "crashed", "error": repr(err)})
        raise
    routes = [Route.parse(key) for key in spec.routes]
    arn = f"arn:aws:lambda:{config.region}:{ACCOUNT_ID}:function:{spec.name}"

    @Request.application  # type: ignore[untyped-decorator]
    def serve(request: Request) -> Response:
        path = request.path
        for route in routes:
            params = route.match(request.method, path)
            if params is not None:
                break
        else:
            return Response('{"message":"Not Found"}', status=404, content_type="application/json")
        headers = {k.lower(): v for k, v in request.headers.items()}
        event = to_event(
            request.method,
            path,
            request.query_string.decode(),
            headers,
            request.get_data(),
            route.key,
            params,
        )
        context = LambdaContext(spec.name, spec.memory_mb, arn, event["requestContext"]["requestId"])
        try:
            status, response_headers, body = from_result(handler(event, context))
        except Exception:  # what API Gateway answers when the integration fails
            traceback.print_exc()
            return Response('{"message":"Internal Server Error"}', status=500, content_type="application/json")
        return Response(body, status=status, headers=response_headers)

    try:
        server = make_server(HOST, config.port, serve, threaded=False)
    except OSError as err:
        reports.put({"kind": "crashed", "error": repr(err)})
        raise
    reports.put({"kind": "ready"})
    server.serve_forever()


class LocalApiGateway:
    def __init__(self, spec: ApiSpec, endpoint_url: str, region: str, port: int, run_dir: Path) -> None:
        self.url = f"http://{HOST}:{port}"
        context = multiprocessing.get_context("spawn")
        self._reports: Any = context.Queue()
        self._process = context.Process(
            target=gateway_main,
            args=(GatewayConfig(spec, endpoint_url, region, port, str(run_dir)), self._reports),
            name="api-gateway",
            daemon=True,
        )
        self._run_dir = run_dir

    def start(self, timeout: float = 120) -> LocalApiGateway:
        self._process.start()
        report = self._reports.get(timeout=timeout)
        if report["kind"] != "ready":
            self.stop()
            raise RuntimeError(
                f"the API function failed its cold start: {report['error']} (see {self._run_dir}/api.log)"
            )
        return self

    def stop(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
