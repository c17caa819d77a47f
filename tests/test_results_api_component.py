"""ResultsApi under mocks: routes, auth, throttling, CORS, the zip function and who may invoke it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pulumi
import pytest

from components.api_package import api_archive, powertools_layer_parameter, powertools_version
from components.results_api import ROUTES, ResultsApi, ResultsApiArgs
from local.program import PROJECT_ROOT, Deployment, run

LAYER = "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:20"


def api_args(**overrides: object) -> ResultsApiArgs:
    base = ResultsApiArgs(
        function_name="image-classifier-test-api",
        code=pulumi.AssetArchive({"results_api/app.py": pulumi.StringAsset("")}),
        layers=[LAYER],
        bucket_arn="arn:aws:s3:::photos-bucket",
        upload_prefix="uploads/",
        api_upload_prefix="uploads/api/",
        table_arn="arn:aws:dynamodb:eu-west-1:123456789012:table/preds",
        environment={"TABLE_NAME": "preds"},
    )
    return dataclasses.replace(base, **overrides)


def deploy(**overrides: object) -> Deployment:
    return run(lambda: ResultsApi("results", api_args(**overrides)))


def test_every_route_goes_to_the_function_and_requires_iam_by_default() -> None:
    deployment = deploy()
    integration = deployment.one("aws:apigatewayv2/integration:Integration")
    function = deployment.one("aws:lambda/function:Function")

    routes = deployment.of_type("aws:apigatewayv2/route:Route")

    assert sorted(r.inputs["routeKey"] for r in routes) == sorted(ROUTES)
    assert {r.inputs["target"] for r in routes} == {f"integrations/{integration.outputs['id']}"}
    assert {r.inputs["authorizationType"] for r in routes} == {"AWS_IAM"}
    assert not deployment.of_type("aws:apigatewayv2/authorizer:Authorizer")
    assert integration.inputs["integrationType"] == "AWS_PROXY"
    assert integration.inputs["payloadFormatVersion"] == "2.0"
    assert integration.inputs["integrationUri"] == function["invokeArn"]
    assert deployment.one("aws:apigatewayv2/api:Api").inputs["protocolType"] == "HTTP"


def test_jwt_auth_puts_one_authorizer_on_every_route() -> None:
    deployment = deploy(
        auth="jwt", jwt_issuer="https://cognito-idp.eu-west-1.amazonaws.com/pool", jwt_audiences=["app"]
    )
    authorizer = deployment.one("aws:apigatewayv2/authorizer:Authorizer")

    routes = deployment.of_type("aws:apigatewayv2/route:Route")

    assert authorizer.inputs["authorizerType"] == "JWT"
    assert authorizer.inputs["identitySources"] == ["$request.header.Authorization"]
    assert authorizer.inputs["jwtConfiguration"] == {
        "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/pool",
        "audiences": ["app"],
    }
    assert {r.inputs["authorizationType"] for r in routes} == {"JWT"}
    assert {r.inputs["authorizerId"] for r in routes} == {authorizer.outputs["id"]}


def test_the_default_stage_throttles_deploys_itself_and_logs_every_request() -> None:
    deployment = deploy(throttle_rate_limit=20, throttle_burst_limit=40, log_retention_days=30)
    stage = deployment.one("aws:apigatewayv2/stage:Stage").inputs
    access = deployment.one("aws:cloudwatch/logGroup:LogGroup", "-access-logs")

    assert (stage["name"], stage["autoDeploy"]) == ("$default", True)
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 20
    assert stage["defaultRouteSettings"]["throttlingBurstLimit"] == 40
    assert stage["accessLogSettings"]["destinationArn"] == access["arn"]
    assert {"requestId", "routeKey", "status", "caller"} <= set(json.loads(stage["accessLogSettings"]["format"]))
    assert access.inputs["retentionInDays"] == 30


def test_cors_is_off_unless_origins_are_given() -> None:
    without = deploy().one("aws:apigatewayv2/api:Api").inputs
    with_origins = deploy(cors_origins=["https://app.example.org"]).one("aws:apigatewayv2/api:Api").inputs

    assert "corsConfiguration" not in without
    cors = with_origins["corsConfiguration"]
    assert cors["allowOrigins"] == ["https://app.example.org"]
    assert set(cors["allowMethods"]) == {"GET", "POST", "DELETE", "OPTIONS"}
    assert "authorization" in cors["allowHeaders"] and "x-amz-date" in cors["allowHeaders"]


def test_the_function_is_a_small_zip_with_powertools_from_its_layer() -> None:
    deployment = deploy()
    function = deployment.one("aws:lambda/function:Function").inputs
    group = deployment.one("aws:cloudwatch/logGroup:LogGroup", "results-logs")

    assert (function["runtime"], function["handler"]) == ("python3.12", "results_api.app.lambda_handler")
    assert function["layers"] == [LAYER]
    assert "packageType" not in function or function["packageType"] == "Zip"
    assert function["environment"] == {"variables": {"TABLE_NAME": "preds"}}
    assert function["loggingConfig"]["logGroup"] == group["name"] == "/aws/lambda/image-classifier-test-api"


def test_only_this_api_may_invoke_the_function() -> None:
    deployment = deploy()
    api = deployment.one("aws:apigatewayv2/api:Api")

    permission = deployment.one("aws:lambda/permission:Permission").inputs

    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["action"] == "lambda:InvokeFunction"
    assert permission["sourceArn"] == f"{api['executionArn']}/*/*"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"auth": "jwt"}, "jwt_issuer"),
        ({"jwt_issuer": "https://issuer.example.org"}, "only with auth jwt"),
        ({"auth": "jwt", "jwt_issuer": "http://insecure", "jwt_audiences": ["a"]}, "https://"),
        ({"cors_origins": ["ftp://x"]}, "cors_origins"),
        ({"api_upload_prefix": "elsewhere/"}, "inside upload_prefix"),
        ({"timeout_seconds": 30}, "timeout_seconds"),
        ({"auth": "cognito"}, "auth must be one of"),
    ],
)
def test_conflicting_or_unsafe_inputs_are_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deploy(**overrides)


def test_the_zip_holds_the_api_package_and_the_key_layout_only() -> None:
    archive = api_archive(PROJECT_ROOT)

    names = set(archive.assets)

    assert "results_api/app.py" in names and "results_api/results.py" in names
    assert {n for n in names if n.startswith("classifier/")} == {"classifier/__init__.py", "classifier/keys.py"}
    code = {n for n in names if not n.startswith("tzdata/")}
    assert all(n.endswith(".py") for n in code)
    assert not [n for n in names if "__pycache__" in n]
    assert {n.split("/")[0] for n in names} == {"results_api", "classifier", "tzdata"}


def test_the_layer_is_the_powertools_release_the_image_pins(tmp_path: Path) -> None:
    requirements = (PROJECT_ROOT / "lambda_src" / "requirements.txt").read_text()

    version = powertools_version(PROJECT_ROOT)

    assert f"aws-lambda-powertools=={version}" in requirements
    assert powertools_layer_parameter("arm64", version) == f"/aws/service/powertools/python/arm64/python3.12/{version}"
    (tmp_path / "lambda_src").mkdir()
    (tmp_path / "lambda_src" / "requirements.txt").write_text("aws-lambda-powertools>=3\n")
    with pytest.raises(ValueError, match="must pin"):
        powertools_version(tmp_path)


def test_the_zip_carries_the_zone_database_the_runtime_lacks() -> None:
    import zoneinfo

    names = set(api_archive(PROJECT_ROOT).assets)

    assert "tzdata/zoneinfo/Africa/Lagos" in names and "tzdata/__init__.py" in names
    # With no system zone database (as on the python3.12 runtime), zoneinfo falls back to tzdata.
    zoneinfo.reset_tzpath(to=[])
    try:
        zoneinfo.ZoneInfo.clear_cache()
        assert str(zoneinfo.ZoneInfo("Africa/Lagos")) == "Africa/Lagos"
    finally:
        zoneinfo.reset_tzpath()
        zoneinfo.ZoneInfo.clear_cache()
