"""Settings: defaults, stack files, and a clear error naming the key for every bad value."""

from __future__ import annotations

import pytest

from components.settings import SettingsError, load_settings
from local.program import stack_config


class DictConfig:
    """Stands in for pulumi.Config: raw strings by bare key."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, key: str) -> str | None:
        return self.values.get(key)


def settings_from(**values: str):
    return load_settings(DictConfig(values), project="image-classifier", stack="test")


def test_defaults_follow_the_original_guide() -> None:
    settings = settings_from()

    assert settings.class_names == ("AAW", "ECLW", "FAW")
    assert settings.memory_mb == 7168
    assert settings.timeout_seconds == 300
    assert settings.timezone == "Africa/Lagos"
    assert settings.upload_prefix == "uploads/"
    assert settings.inference_runtime == "litert"
    assert settings.platform == "linux/amd64"
    assert settings.queue_visibility_timeout_seconds == 1800
    assert settings.model.kind == "local" and settings.model.location == "models/demo"
    assert settings.protect is False


def test_stack_files_differ_where_it_matters() -> None:
    def from_stack(stack: str):
        prefix = "image-classifier:"
        raw = {k.removeprefix(prefix): v for k, v in stack_config(stack).items() if k.startswith(prefix)}
        return load_settings(DictConfig(raw), project="image-classifier", stack=stack)

    dev, prod = from_stack("dev"), from_stack("prod")

    assert (dev.protect, prod.protect) == (False, True)
    assert prod.log_retention_days > dev.log_retention_days
    assert prod.max_concurrency > dev.max_concurrency
    assert prod.reserved_concurrency is not None and prod.reserved_concurrency >= prod.max_concurrency


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("functionMemoryMb", "64", "functionMemoryMb: must be from 128 to 10240, got 64"),
        ("functionMemoryMb", "10241", "functionMemoryMb: must be from 128 to 10240, got 10241"),
        ("functionMemoryMb", "lots", "functionMemoryMb: expected a whole number from 128 to 10240"),
        ("functionTimeoutSeconds", "901", "functionTimeoutSeconds: must be from 1 to 900"),
        ("ephemeralStorageMb", "256", "ephemeralStorageMb: must be from 512 to 10240"),
        ("inferenceRuntime", "onnx", "inferenceRuntime: must be one of litert, tensorflow"),
        ("architecture", "amd64", "architecture: must be one of x86_64, arm64"),
        ("modelPrecision", "int4", "modelPrecision: must be one of float32, dynamic-int8"),
        ("classNames", "", None),  # empty string means unset: defaults apply
        ("classNames", "[]", "classNames: must list at least one class"),
        ("classNames", "AAW,AAW", "classNames: names must be unique"),
        ("classNames", "AAW,bad name", "classNames: 'bad name' is not allowed"),
        ("classNames", "AAW,REJECTED", "classNames: 'REJECTED' is reserved"),
        ("classNames", '["AAW", 3]', "classNames: expected a list of strings"),
        ("uploadPrefix", "uploads", "uploadPrefix: must be a relative S3 key prefix ending in '/'"),
        ("uploadPrefix", "/uploads/", "uploadPrefix: must be a relative S3 key prefix ending in '/'"),
        ("timezone", "Mars/Olympus", "timezone: 'Mars/Olympus' is not an IANA time zone name"),
        ("logLevel", "TRACE", "logLevel: must be one of DEBUG, INFO, WARNING, ERROR"),
        ("logRetentionDays", "10", "logRetentionDays: must be one of 1, 3, 5, 7, 14"),
        ("maxConcurrency", "1", "maxConcurrency: must be from 2 to 1000"),
        ("maxReceiveCount", "0", "maxReceiveCount: must be from 1 to 1000"),
        ("eventRetryAttempts", "186", "eventRetryAttempts: must be from 0 to 185"),
        ("tracing", "yes", "tracing: expected true or false, got 'yes'"),
        ("imageFormats", "JPEG,HEIC", "imageFormats: must be a non-empty list from JPEG"),
        ("maxImageBytes", "10", "maxImageBytes: must be from 1024 to 1073741824"),
        ("modelSource", "/abs/model", "modelSource: a local model must be a relative path under models/"),
        ("modelSource", "models/../secrets", "modelSource: a local model must be a relative path under models/"),
        ("modelSource", "ftp://host/m.tar.gz", "modelSource: use a local path under models/"),
        ("modelSource", "s3://bucket/model.bin", "modelSource: a remote model must be an archive"),
        ("modelSource", "https://example.com/m.tar.gz", "modelSha256: required with an https:// modelSource"),
        ("modelSha256", "abc", "modelSha256: expected 64 hex digits"),
    ],
)
def test_bad_value_names_the_key_and_the_allowed_range(key: str, value: str, message: str | None) -> None:
    if message is None:
        assert settings_from(**{key: value}).class_names == ("AAW", "ECLW", "FAW")
        return
    with pytest.raises(SettingsError) as caught:
        settings_from(**{key: value})
    assert message in str(caught.value)


def test_conflicting_values_are_refused_together() -> None:
    with pytest.raises(SettingsError, match="ephemeralStorageMb: SnapStart supports at most 512 MB"):
        settings_from(snapStart="true", ephemeralStorageMb="1024")
    with pytest.raises(SettingsError, match="reservedConcurrency: must be at least maxConcurrency"):
        settings_from(maxConcurrency="10", reservedConcurrency="5")
    with pytest.raises(SettingsError, match="modelPrecision: dynamic-int8 is a LiteRT conversion"):
        settings_from(inferenceRuntime="tensorflow", modelPrecision="dynamic-int8")
    with pytest.raises(SettingsError, match="batchingWindowSeconds: SQS batch sizes above 10"):
        settings_from(batchSize="100", batchingWindowSeconds="0")


def test_lists_accept_json_or_commas_and_remote_models_parse() -> None:
    assert settings_from(classNames='["a", "b"]').class_names == ("a", "b")
    assert settings_from(classNames="a, b ,c").class_names == ("a", "b", "c")
    assert settings_from(imageFormats="jpeg,png,JPEG").image_formats == ("JPEG", "PNG")
    digest = "a" * 64
    remote = settings_from(modelSource="https://example.com/m.tar.gz", modelSha256=digest.upper()).model
    assert (remote.kind, remote.sha256) == ("https", digest)
    assert settings_from(modelSource="s3://models/resnet.tar.gz").model.kind == "s3"
    assert settings_from(architecture="arm64").platform == "linux/arm64"


def test_the_api_defaults_to_iam_auth_no_cors_and_modest_throttling() -> None:
    api = settings_from().api

    assert (api.auth, api.jwt_issuer, api.jwt_audiences, api.cors_origins) == ("iam", None, (), ())
    assert (api.throttle_rate_limit, api.throttle_burst_limit, api.url_ttl_seconds) == (50, 100, 300)
    assert api.powertools_layer_arn is None


def test_jwt_auth_takes_an_issuer_and_audiences() -> None:
    api = settings_from(
        apiAuth="jwt", apiJwtIssuer="https://cognito-idp.eu-west-1.amazonaws.com/pool", apiJwtAudiences='["app", "web"]'
    ).api

    assert (api.auth, api.jwt_audiences) == ("jwt", ("app", "web"))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"apiAuth": "basic"}, "apiAuth: must be one of iam, jwt; got 'basic'"),
        ({"apiAuth": "jwt"}, "apiJwtIssuer, apiJwtAudiences: apiAuth jwt needs"),
        ({"apiAuth": "jwt", "apiJwtIssuer": "https://x.example.org"}, "at least one audience"),
        ({"apiJwtIssuer": "https://x.example.org"}, "set only with apiAuth jwt"),
        ({"apiAuth": "jwt", "apiJwtIssuer": "http://x", "apiJwtAudiences": "a"}, "apiJwtIssuer: must be an https://"),
        ({"apiCorsOrigins": "https://ok.example.org,ftp://bad"}, "apiCorsOrigins: each origin"),
        ({"apiThrottleRate": "0"}, "apiThrottleRate: must be from 1 to 10000, got 0"),
        ({"apiThrottleBurst": "9999"}, "apiThrottleBurst: must be from 1 to 5000, got 9999"),
        ({"apiUrlTtlSeconds": "86400"}, "apiUrlTtlSeconds: must be from 60 to 3600"),
        ({"apiPowertoolsLayerArn": "powertools"}, "apiPowertoolsLayerArn: expected a layer version ARN"),
    ],
)
def test_bad_api_settings_name_the_key(values: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_from(**values)

    assert message in str(raised.value)
