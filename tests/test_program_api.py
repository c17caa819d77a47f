"""The results API as the program wires it: settings in, environment, layer and outputs out."""

from __future__ import annotations

from typing import Any

import pulumi

from components.api_package import powertools_version
from local.program import PROJECT_ROOT, Mocks
from tests.infra_helpers import api_function, run_program


class CountingMocks(Mocks):
    """Mocks that remember which invokes the program made."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: list[str] = []
        self.parameters: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        self.tokens.append(args.token)
        if args.token == "aws:ssm/getParameter:getParameter":
            self.parameters.append(args.args["name"])
        return super().call(args)


def test_the_api_function_gets_the_pipelines_table_bucket_classes_and_limits() -> None:
    deployment = run_program(
        "dev", {"image-classifier:imageFormats": "JPEG,PNG,MPO", "image-classifier:maxImageBytes": "1048576"}
    )
    table = deployment.one("aws:dynamodb/table:Table")["name"]
    bucket = deployment.one("aws:s3/bucket:Bucket")["bucket"]

    variables = api_function(deployment).inputs["environment"]["variables"]

    assert (variables["TABLE_NAME"], variables["BUCKET_NAME"]) == (table, bucket)
    assert variables["CLASS_NAMES"] == "AAW,ECLW,FAW"
    assert variables["UPLOAD_PREFIX"] == "uploads/api/"
    assert variables["UPLOAD_CONTENT_TYPES"] == "image/jpeg,image/png"
    assert variables["MAX_UPLOAD_BYTES"] == "1048576"
    assert variables["TIMEZONE"] == "Africa/Lagos"


def test_the_powertools_layer_comes_from_its_ssm_parameter_for_the_architecture() -> None:
    mocks = CountingMocks()
    deployment = run_program("dev", {"image-classifier:architecture": "arm64"}, mocks=mocks)

    (layer,) = api_function(deployment).inputs["layers"]

    # The release the image pins, for the function's architecture and runtime.
    assert mocks.parameters == [f"/aws/service/powertools/python/arm64/python3.12/{powertools_version(PROJECT_ROOT)}"]
    assert layer.endswith(":layer:AWSLambdaPowertoolsPythonV3-python312-arm64:1")
    assert api_function(deployment).inputs["architectures"] == ["arm64"]


def test_an_explicit_layer_arn_skips_the_lookup() -> None:
    arn = "arn:aws:lambda:eu-west-1:123456789012:layer:my-powertools:4"
    mocks = CountingMocks()

    deployment = run_program("dev", {"image-classifier:apiPowertoolsLayerArn": arn}, mocks=mocks)

    assert api_function(deployment).inputs["layers"] == [arn]
    assert "aws:ssm/getParameter:getParameter" not in mocks.tokens


def test_api_outputs_are_exported_and_jwt_reaches_the_routes() -> None:
    deployment = run_program(
        "dev",
        {
            "image-classifier:apiAuth": "jwt",
            "image-classifier:apiJwtIssuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_pool",
            "image-classifier:apiJwtAudiences": "app-client",
        },
    )
    api = deployment.one("aws:apigatewayv2/api:Api")

    assert deployment.exports["api_url"] == f"https://{api.outputs['id']}.execute-api.eu-west-1.amazonaws.com/"
    assert deployment.exports["api_function_name"] == "image-classifier-dev-api"
    assert {r.inputs["authorizationType"] for r in deployment.of_type("aws:apigatewayv2/route:Route")} == {"JWT"}
