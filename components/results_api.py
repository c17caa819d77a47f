"""ResultsApi: an API Gateway HTTP API over the predictions, served by a small zip Lambda.

Routes: POST /uploads (presigned POST), GET /predictions, GET|DELETE /predictions/{prediction_id},
GET /counts, GET /openapi.json. Every route requires IAM (SigV4) auth by default, or a JWT
authorizer; the `$default` stage throttles and writes JSON access logs. The function is the
Powertools event handler in lambda_src/results_api, with Powertools from its public layer; the
7 GB model image is never involved.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from components import policies
from components.function_basics import LAMBDA_LOG_LEVELS, function_basics, json_logging

ROUTES = (
    "POST /uploads",
    "GET /predictions",
    "GET /predictions/{prediction_id}",
    "DELETE /predictions/{prediction_id}",
    "GET /counts",
    "GET /openapi.json",
)
AUTH_TYPES = {"iam": "AWS_IAM", "jwt": "JWT"}
HANDLER = "results_api.app.lambda_handler"
RUNTIME = "python3.12"
# Headers a browser client sends: SigV4's own plus the JSON body's.
CORS_HEADERS = ("authorization", "content-type", "x-amz-content-sha256", "x-amz-date", "x-amz-security-token")
ORIGIN = re.compile(r"^(\*|https://[A-Za-z0-9.-]+(:\d{1,5})?|http://(localhost|127\.0\.0\.1)(:\d{1,5})?)$")
ACCESS_LOG_FORMAT = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "caller": "$context.identity.caller",
    "user": "$context.identity.user",
    "jwtSubject": "$context.authorizer.claims.sub",
    "requestTime": "$context.requestTime",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "latency": "$context.integrationLatency",
    "error": "$context.error.message",
    "integrationError": "$context.integrationErrorMessage",
}


@dataclass
class ResultsApiArgs:
    function_name: str
    """Explicit so the log group can be named before the function exists."""
    code: pulumi.Archive
    layers: Sequence[pulumi.Input[str]]
    bucket_arn: pulumi.Input[str]
    upload_prefix: str
    """Where the pipeline's uploads are: the API presigns GETs of their versions."""
    api_upload_prefix: str
    """Where the API's presigned uploads go (inside `upload_prefix`): its only write access."""
    table_arn: pulumi.Input[str]
    environment: pulumi.Input[Mapping[str, str]] = field(default_factory=dict)
    auth: str = "iam"
    jwt_issuer: str | None = None
    jwt_audiences: Sequence[str] = ()
    cors_origins: Sequence[str] = ()
    throttle_rate_limit: float = 50
    throttle_burst_limit: int = 100
    architecture: str = "x86_64"
    memory_mb: int = 512
    timeout_seconds: int = 10
    log_retention_days: int = 14
    log_level: str = "INFO"
    tracing: bool = False


class ResultsApi(pulumi.ComponentResource):
    api_url: pulumi.Output[str]
    api_id: pulumi.Output[str]
    function_name: pulumi.Output[str]
    role_arn: pulumi.Output[str]

    def __init__(self, name: str, args: ResultsApiArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("image-classifier:index:ResultsApi", name, None, opts)
        _validate(args)
        child = pulumi.ResourceOptions(parent=self)

        basics = function_basics(
            name,
            self,
            function_name=args.function_name,
            log_retention_days=args.log_retention_days,
            policy=lambda log_group_arn: pulumi.Output.all(args.bucket_arn, args.table_arn, log_group_arn).apply(
                lambda v: policies.api_policy(
                    bucket_arn=v[0],
                    upload_prefix=args.upload_prefix,
                    api_upload_prefix=args.api_upload_prefix,
                    table_arn=v[1],
                    log_group_arn=v[2],
                    tracing=args.tracing,
                )
            ),
        )
        function = aws.lambda_.Function(
            f"{name}-function",
            name=args.function_name,
            role=basics.role.arn,
            runtime=RUNTIME,
            handler=HANDLER,
            code=args.code,
            layers=args.layers,
            architectures=[args.architecture],
            memory_size=args.memory_mb,
            timeout=args.timeout_seconds,
            environment=aws.lambda_.FunctionEnvironmentArgs(variables=args.environment),
            logging_config=json_logging(basics.log_group, args.log_level),
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active" if args.tracing else "PassThrough"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[basics.policy, basics.log_group]),
        )

        api = aws.apigatewayv2.Api(
            f"{name}-api",
            name=args.function_name,
            protocol_type="HTTP",
            description="Presigned uploads, predictions and daily counts",
            cors_configuration=aws.apigatewayv2.ApiCorsConfigurationArgs(
                allow_origins=list(args.cors_origins),
                allow_methods=["DELETE", "GET", "OPTIONS", "POST"],
                allow_headers=list(CORS_HEADERS),
                max_age=3600,
            )
            if args.cors_origins
            else None,
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            f"{name}-integration",
            api_id=api.id,
            integration_type="AWS_PROXY",
            integration_method="POST",
            integration_uri=function.invoke_arn,
            payload_format_version="2.0",
            timeout_milliseconds=min(30_000, (args.timeout_seconds + 1) * 1000),
            opts=child,
        )
        authorizer = None
        if args.auth == "jwt":
            authorizer = aws.apigatewayv2.Authorizer(
                f"{name}-jwt",
                api_id=api.id,
                name=f"{args.function_name}-jwt",
                authorizer_type="JWT",
                identity_sources=["$request.header.Authorization"],
                jwt_configuration=aws.apigatewayv2.AuthorizerJwtConfigurationArgs(
                    issuer=args.jwt_issuer, audiences=list(args.jwt_audiences)
                ),
                opts=child,
            )
        for route_key in ROUTES:
            aws.apigatewayv2.Route(
                f"{name}-route-{_slug(route_key)}",
                api_id=api.id,
                route_key=route_key,
                target=integration.id.apply(lambda i: f"integrations/{i}"),
                authorization_type=AUTH_TYPES[args.auth],
                authorizer_id=authorizer.id if authorizer is not None else None,
                opts=child,
            )
        access_logs = aws.cloudwatch.LogGroup(
            f"{name}-access-logs",
            name=f"/aws/apigateway/{args.function_name}",
            retention_in_days=args.log_retention_days,
            opts=child,
        )
        stage = aws.apigatewayv2.Stage(
            f"{name}-stage",
            api_id=api.id,
            name="$default",
            auto_deploy=True,
            default_route_settings=aws.apigatewayv2.StageDefaultRouteSettingsArgs(
                throttling_rate_limit=args.throttle_rate_limit,
                throttling_burst_limit=args.throttle_burst_limit,
                detailed_metrics_enabled=True,
            ),
            access_log_settings=aws.apigatewayv2.StageAccessLogSettingsArgs(
                destination_arn=access_logs.arn, format=json.dumps(ACCESS_LOG_FORMAT)
            ),
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-invoke",
            action="lambda:InvokeFunction",
            function=function.name,
            principal="apigateway.amazonaws.com",
            # Any stage and route of this API, and nothing else.
            source_arn=api.execution_arn.apply(lambda arn: f"{arn}/*/*"),
            opts=child,
        )

        self.api_url = stage.invoke_url
        self.api_id = api.id
        self.function_name = function.name
        self.role_arn = basics.role.arn
        self.register_outputs(
            {
                "api_url": self.api_url,
                "api_id": self.api_id,
                "function_name": self.function_name,
                "role_arn": self.role_arn,
            }
        )


def _slug(route_key: str) -> str:
    """`GET /predictions/{prediction_id}` -> `get-predictions-prediction-id`: stable child names."""
    return re.sub(r"[^a-z0-9]+", "-", route_key.lower()).strip("-")


def _validate(args: ResultsApiArgs) -> None:
    problems = []
    if not 1 <= len(args.function_name) <= 64:
        problems.append(f"function_name must be 1-64 characters, got {len(args.function_name)}")
    if args.auth not in AUTH_TYPES:
        problems.append(f"auth must be one of {', '.join(AUTH_TYPES)}")
    if args.auth == "jwt" and (not args.jwt_issuer or not args.jwt_audiences):
        problems.append("auth jwt needs jwt_issuer and at least one of jwt_audiences")
    if args.auth != "jwt" and (args.jwt_issuer or args.jwt_audiences):
        problems.append("jwt_issuer and jwt_audiences apply only with auth jwt")
    if args.jwt_issuer is not None and not args.jwt_issuer.startswith("https://"):
        problems.append("jwt_issuer must be an https:// URL")
    bad_origins = [o for o in args.cors_origins if not ORIGIN.match(o)]
    if bad_origins:
        problems.append(f"cors_origins must be https://host[:port] (or http://localhost), got {bad_origins}")
    if not args.api_upload_prefix.startswith(args.upload_prefix):
        problems.append("api_upload_prefix must be inside upload_prefix, or its uploads would not be classified")
    if not 0 < args.throttle_rate_limit <= 10_000 or not 0 < args.throttle_burst_limit <= 5_000:
        problems.append("throttle limits must be positive (rate <= 10000/s, burst <= 5000)")
    if not 1 <= args.timeout_seconds <= 29:
        problems.append("timeout_seconds must be from 1 to 29 (API Gateway waits at most 30 s)")
    if args.log_level not in LAMBDA_LOG_LEVELS:
        problems.append(f"log_level must be one of {', '.join(LAMBDA_LOG_LEVELS)}")
    if problems:
        raise ValueError("ResultsApi: " + "; ".join(problems))
