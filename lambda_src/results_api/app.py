"""The results API's HTTP face: Powertools' event handler for API Gateway HTTP APIs (payload 2.0).

Routes validate their parameters (pydantic, through Powertools) and hand over to
`ResultsService`; the OpenAPI document is generated from the same declarations and served at
`/openapi.json`. Authentication (IAM or JWT), throttling and CORS are the gateway's job.
"""

from __future__ import annotations

import functools
import json
import os
from typing import Annotated, Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import BadRequestError, NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config
from pydantic import BaseModel, Field

from results_api.config import ApiConfig
from results_api.results import BadInput, NotFound, ResultsService

TITLE = "Image classifier results API"
VERSION = "1.0.0"

logger = Logger()
app = APIGatewayHttpResolver(enable_validation=True)
_service: ResultsService | None = None


# -- the documents the routes exchange ----------------------------------------------------------
class UploadRequest(BaseModel):
    content_type: str = Field(default="image/jpeg", description="The Content-Type the upload will carry.")


class PresignedPost(BaseModel):
    key: str = Field(description="The object key the upload will have.")
    url: str = Field(description="POST a multipart/form-data request here.")
    fields: dict[str, str] = Field(description="Form fields to send, in this order, before the `file` field.")
    content_type: str
    max_bytes: int = Field(description="Uploads larger than this are refused by S3 (the signed policy says so).")
    expires_in: int = Field(description="Seconds the presigned POST stays valid.")


class Prediction(BaseModel):
    id: str = Field(description="32 hex digits; stable for the uploaded object version.")
    date: str = Field(description="The day it was counted under (YYYY-MM-DD, the stack's time zone).")
    status: str = Field(description="CLASSIFIED or REJECTED.")
    class_name: str | None = Field(description="The predicted class (CLASSIFIED only).")
    confidence: float | None
    confidence_score: str | None = Field(description='The original string form, e.g. "93%".')
    probabilities: dict[str, float]
    count: int = Field(description="The day's count of its class (or of rejections) when it was recorded.")
    reason: str | None = Field(description="Why it was rejected (REJECTED only).")
    reason_detail: str | None
    capture_time: str | None
    upload_time: str | None
    object_key: str
    version_id: str | None
    model_version: str | None
    image_url: str = Field(description="A presigned GET for the image version; short-lived.")
    image_url_expires_in: int


class PredictionPage(BaseModel):
    items: list[Prediction]
    next: str | None = Field(description="Pass as `next` for the following page; absent on the last page.")


class DailyCounts(BaseModel):
    date: str
    counts: dict[str, int] = Field(description="Per class, including classes with no prediction that day.")
    total: int = Field(description="Classified predictions that day.")
    rejected: int = Field(description="Rejected uploads that day (not in `total`).")


class Problem(BaseModel):
    statusCode: int  # noqa: N815 - Powertools' own error shape, kept for every error
    message: str


def responses(code: int, description: str, model: Any = None, *, not_found: bool = False) -> dict[int, Any]:
    """A route's documented responses: its success, then the errors it can answer."""
    documented: dict[int, Any] = {code: {"description": description}}
    if model is not None:
        documented[code]["content"] = {"application/json": {"model": model}}
    documented[400] = {
        "description": "A parameter is malformed; `message` names it.",
        "content": {"application/json": {"model": Problem}},
    }
    if not_found:
        documented[404] = {"description": "No such prediction.", "content": {"application/json": {"model": Problem}}}
    return documented


# -- routes -------------------------------------------------------------------------------------
@app.post(
    "/uploads",
    status_code=201,
    summary="Presigned POST for one image upload",
    description="Returns a URL and form fields; POST the image as the `file` field, last, to upload it "
    "without AWS credentials. The key, Content-Type and size limit are pinned by the signature.",
    responses=responses(201, "The presigned POST.", PresignedPost),
)
def create_upload(request: Annotated[UploadRequest | None, Body()] = None) -> PresignedPost:
    return PresignedPost(**_call(service().presign_upload, (request or UploadRequest()).content_type))


@app.get(
    "/predictions",
    summary="One day's predictions, paginated",
    responses=responses(200, "A page of predictions.", PredictionPage),
)
def list_predictions(
    date: Annotated[str | None, Query(description="YYYY-MM-DD; today in the stack's time zone if absent.")] = None,
    class_name: Annotated[str | None, Query(alias="class", description="Only this class (or REJECTED).")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Predictions per page (1-100).")] = 25,
    next_token: Annotated[
        str | None, Query(alias="next", max_length=2048, description="From the previous page.")
    ] = None,
) -> PredictionPage:
    s = service()
    day = _call(s.check_date, date)
    wanted = _call(s.check_class, class_name)
    page = _call(s.list_predictions, day, wanted, limit, next_token)
    return PredictionPage(items=[Prediction(**item) for item in page.items], next=page.next_token)


@app.get(
    "/predictions/<prediction_id>",
    summary="One prediction",
    responses=responses(200, "The prediction.", Prediction, not_found=True),
)
def get_prediction(prediction_id: Annotated[str, Path(description="32 hex digits.")]) -> Prediction:
    return Prediction(**_call(service().get_prediction, prediction_id))


@app.delete(
    "/predictions/<prediction_id>",
    status_code=204,
    summary="Delete one prediction",
    description="Removes the record and takes it off its day's count (the `count` of records already "
    "stored is left as it was). The image stays in the bucket; its event is not processed again.",
    responses=responses(204, "Deleted.", not_found=True),
)
def delete_prediction(prediction_id: Annotated[str, Path(description="32 hex digits.")]) -> Response[None]:
    _call(service().delete_prediction, prediction_id)
    return Response(status_code=204)


@app.get(
    "/counts",
    summary="Per-class counts for one day",
    responses=responses(200, "The day's counts.", DailyCounts),
)
def daily_counts(
    date: Annotated[str | None, Query(description="YYYY-MM-DD; today in the stack's time zone if absent.")] = None,
) -> DailyCounts:
    s = service()
    return DailyCounts(**_call(s.counts, _call(s.check_date, date)))


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=openapi_document())


@functools.cache  # the routes are fixed at import: build the document once per environment
def openapi_document() -> str:
    document = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            description="Presigned uploads, predictions and daily counts. Every route needs the stack's "
            "authentication: SigV4-signed requests (IAM, the default) or a JWT bearer token.",
        )
    )
    # Powertools documents its default 422 for invalid requests; this API answers 400 instead.
    for operations in document["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            operation["responses"].get("204", {}).pop("content", None)  # 204 has no body
    return json.dumps(document)


@app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
def _invalid_request(error: RequestValidationError) -> Response[str]:
    """400, not Powertools' default 422, with each problem named by its parameter."""
    problems = []
    for problem in error.errors():
        # ("query", "limit") -> "limit"; ("body", "content_type") -> "content_type"; ("body", 1) -> "body"
        location = list(problem.get("loc", ())) or ["request"]
        where = [str(part) for part in location[1:] if not isinstance(part, int)] or [str(location[0])]
        problems.append(f"{'.'.join(where)}: {problem.get('msg', 'invalid')}")
    return _bad_request("; ".join(problems))


@app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
def _undecodable_body(_: UnicodeDecodeError) -> Response[str]:
    """A body that is not UTF-8 (API Gateway passes it base64-encoded) cannot be JSON."""
    return _bad_request("body: expected UTF-8 JSON")


def _bad_request(message: str) -> Response[str]:
    """The shape Powertools gives its own HTTP errors, so every 400 reads the same."""
    return Response(
        status_code=400,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"statusCode": 400, "message": message}),
    )


def _call(operation: Any, *args: Any) -> Any:
    """The service's own errors, as Powertools' HTTP errors."""
    try:
        return operation(*args)
    except BadInput as err:
        raise BadRequestError(str(err)) from None
    except NotFound as err:
        raise NotFoundError(str(err)) from None


# -- wiring ---------------------------------------------------------------------------------------
def configure(results: ResultsService | None = None) -> ResultsService:
    """Build the service once per execution environment (tests pass their own)."""
    global _service
    if results is None:
        results = ResultsService(ApiConfig.from_environment(), *clients())
    _service = results
    return results


def clients(region: str | None = None) -> tuple[Any, Any]:
    """The DynamoDB and S3 clients, as the function uses them."""
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    retries = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
    return (
        boto3.client("dynamodb", region_name=region, config=retries),
        # SigV4 presigning: URLs and POST policies that every region accepts.
        boto3.client("s3", region_name=region, config=retries.merge(Config(signature_version="s3v4"))),
    )


def service() -> ResultsService:
    return _service or configure()


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
