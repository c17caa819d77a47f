"""The image-classification pipeline: read the stack's settings once, wire the components.

uploads -> S3 bucket -> EventBridge rule -> SQS queue -> Lambda (model image) -> DynamoDB
clients -> HTTP API -> results Lambda (zip) -> presigned uploads, predictions, daily counts
"""

from __future__ import annotations

import sys
from pathlib import Path

import pulumi
import pulumi_aws as aws

from components.api_package import api_archive, powertools_layer_parameter, powertools_version
from components.build_context import content_tag
from components.event_routing import EventRouting, EventRoutingArgs
from components.inference_function import InferenceFunction, InferenceFunctionArgs
from components.model_fetch import stage_model
from components.model_image import ModelImage, ModelImageArgs
from components.predictions_table import PredictionsTable, PredictionsTableArgs
from components.results_api import ResultsApi, ResultsApiArgs
from components.settings import PROJECT_ROOT, Settings, load_settings
from components.upload_bucket import UploadBucket, UploadBucketArgs

# The function's package is laid out as in the image (/var/task/classifier); its config module is
# the environment contract both sides share, so import it under the same name the function uses.
sys.path.insert(0, str(Path(__file__).resolve().parent / "lambda_src"))
from classifier.config import FunctionConfig
from results_api.config import ApiConfig, content_types_for

# What the image is built from (relative to the project root); .dockerignore admits only these.
IMAGE_SOURCES = (
    "lambda_src/Dockerfile",
    "lambda_src/classifier",
    "lambda_src/requirements.txt",
    "lambda_src/requirements-tensorflow.txt",
    "modelkit",
)


def function_config(settings: Settings, table_name: str) -> FunctionConfig:
    return FunctionConfig(
        table_name=table_name,
        class_names=settings.class_names,
        upload_prefix=settings.upload_prefix,
        timezone=settings.timezone,
        inference_runtime=settings.inference_runtime,
        max_image_bytes=settings.max_image_bytes,
        image_formats=settings.image_formats,
        service_name=settings.project,
        log_level=settings.log_level,
    )


def api_config(settings: Settings, table_name: str, bucket_name: str) -> ApiConfig:
    return ApiConfig(
        table_name=table_name,
        bucket_name=bucket_name,
        class_names=settings.class_names,
        upload_prefix=api_upload_prefix(settings),
        timezone=settings.timezone,
        # The same limit the function applies: S3 refuses a bigger upload before it costs anything.
        max_upload_bytes=settings.max_image_bytes,
        content_types=content_types_for(settings.image_formats),
        url_ttl_seconds=settings.api.url_ttl_seconds,
        service_name=f"{settings.project}-api",
        log_level=settings.log_level,
    )


def api_upload_prefix(settings: Settings) -> str:
    return f"{settings.upload_prefix}api/"


def powertools_layer(settings: Settings) -> pulumi.Output[str]:
    if settings.api.powertools_layer_arn:
        return pulumi.Output.from_input(settings.api.powertools_layer_arn)
    parameter = powertools_layer_parameter(settings.architecture, powertools_version(PROJECT_ROOT))
    return aws.ssm.get_parameter_output(name=parameter).value


def main() -> None:
    settings = load_settings(pulumi.Config(), project=pulumi.get_project(), stack=pulumi.get_stack())
    name = settings.name

    bucket = UploadBucket(
        name,
        UploadBucketArgs(
            upload_prefix=settings.upload_prefix,
            noncurrent_version_days=settings.noncurrent_version_days,
            abort_multipart_days=settings.abort_multipart_days,
            protect=settings.protect,
            cors_origins=settings.api.cors_origins,
        ),
    )
    table = PredictionsTable(name, PredictionsTableArgs(protect=settings.protect))
    routing = EventRouting(
        name,
        EventRoutingArgs(
            bucket_name=bucket.bucket_name,
            upload_prefix=settings.upload_prefix,
            visibility_timeout_seconds=settings.queue_visibility_timeout_seconds,
            max_receive_count=settings.max_receive_count,
            retry_attempts=settings.event_retry_attempts,
            max_event_age_seconds=settings.event_max_age_seconds,
        ),
    )

    function_name = f"{name}-classify"
    model_dir = stage_model(settings.model, PROJECT_ROOT)
    build_args = {
        "MODEL_DIR": model_dir,
        "INFERENCE_RUNTIME": settings.inference_runtime,
        "MODEL_PRECISION": settings.model_precision,
    }
    image = ModelImage(
        name,
        ModelImageArgs(
            context=str(PROJECT_ROOT),
            dockerfile=str(PROJECT_ROOT / "lambda_src" / "Dockerfile"),
            platform=settings.platform,
            function_name_prefix=function_name,
            tag=content_tag(PROJECT_ROOT, (*IMAGE_SOURCES, model_dir), build_args),
            build_args=build_args,
            keep_images=settings.ecr_keep_images,
            force_delete=not settings.protect,
        ),
    )
    function = InferenceFunction(
        name,
        InferenceFunctionArgs(
            function_name=function_name,
            image_uri=image.image_uri,
            bucket_arn=bucket.bucket_arn,
            upload_prefix=settings.upload_prefix,
            table_arn=table.table_arn,
            queue_arn=routing.queue_arn,
            architecture=settings.architecture,
            memory_mb=settings.memory_mb,
            timeout_seconds=settings.timeout_seconds,
            ephemeral_storage_mb=settings.ephemeral_storage_mb,
            environment=table.table_name.apply(lambda t: function_config(settings, t).to_environment()),
            log_retention_days=settings.log_retention_days,
            log_level=settings.log_level,
            batch_size=settings.batch_size,
            batching_window_seconds=settings.batching_window_seconds,
            max_concurrency=settings.max_concurrency,
            reserved_concurrency=settings.reserved_concurrency,
            tracing=settings.tracing,
            snap_start=settings.snap_start,
        ),
    )

    api_function_name = f"{name}-api"
    api = ResultsApi(
        f"{name}-results",
        ResultsApiArgs(
            function_name=api_function_name,
            code=api_archive(PROJECT_ROOT),
            layers=[powertools_layer(settings)],
            bucket_arn=bucket.bucket_arn,
            upload_prefix=settings.upload_prefix,
            api_upload_prefix=api_upload_prefix(settings),
            table_arn=table.table_arn,
            environment=pulumi.Output.all(table.table_name, bucket.bucket_name).apply(
                lambda v: api_config(settings, v[0], v[1]).to_environment()
            ),
            auth=settings.api.auth,
            jwt_issuer=settings.api.jwt_issuer,
            jwt_audiences=settings.api.jwt_audiences,
            cors_origins=settings.api.cors_origins,
            throttle_rate_limit=settings.api.throttle_rate_limit,
            throttle_burst_limit=settings.api.throttle_burst_limit,
            architecture=settings.architecture,
            memory_mb=settings.api.memory_mb,
            log_retention_days=settings.log_retention_days,
            log_level=settings.log_level,
            tracing=settings.tracing,
        ),
    )

    pulumi.export("region", aws.get_region_output().region)
    pulumi.export("bucket", bucket.bucket_name)
    pulumi.export("upload_prefix", settings.upload_prefix)
    pulumi.export("table", table.table_name)
    pulumi.export("queue_url", routing.queue_url)
    pulumi.export("dlq_url", routing.dlq_url)
    pulumi.export("delivery_dlq_url", routing.delivery_dlq_url)
    pulumi.export("function_name", function.function_name)
    pulumi.export("function_arn", function.function_arn)
    pulumi.export("image_uri", image.image_uri)
    pulumi.export("api_url", api.api_url)
    pulumi.export("api_function_name", api.function_name)


main()
