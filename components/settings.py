"""Stack settings: read once from Pulumi config, validated, typed.

Every key is documented in Pulumi.yaml. A bad value raises `SettingsError` naming the key and what
is allowed, so `pulumi preview`/`pulumi up` fail before anything is created.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Protocol
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from components.api_package import LAYER_ARN
from components.results_api import ORIGIN

PROJECT_ROOT = Path(__file__).resolve().parent.parent

DEFAULT_CLASSES = ("AAW", "ECLW", "FAW")
ARCHITECTURES = {"x86_64": "linux/amd64", "arm64": "linux/arm64"}
RUNTIMES = ("litert", "tensorflow")
PRECISIONS = ("float32", "dynamic-int8")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO")
# CloudWatch Logs accepts only these retention periods (PutRetentionPolicy).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
# Class names become DynamoDB sort-key prefixes and metric dimensions: keep them plain.
CLASS_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
RESERVED_CLASS_NAMES = ("REJECTED", "COUNT", "OBJECT")
PREFIX = re.compile(r"^[A-Za-z0-9!_.*'()-]+(/[A-Za-z0-9!_.*'()-]+)*/$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
API_AUTH = ("iam", "jwt")
# Models baked from a local path must sit under this folder: it is the only model folder the
# Docker build context (.dockerignore) lets in.
LOCAL_MODEL_ROOT = "models"


class SettingsError(ValueError):
    """A stack setting is missing or out of range; the message names the key."""


class ConfigReader(Protocol):
    """What settings need from `pulumi.Config`: a raw string per key, or None when unset."""

    def get(self, key: str) -> str | None: ...


@dataclass(frozen=True)
class ModelSource:
    """Where the image build takes the model from."""

    kind: str  # "local" | "https" | "s3"
    location: str  # path relative to the project root, or the URL
    sha256: str | None = None


@dataclass(frozen=True)
class ApiSettings:
    """The results API's settings (keys prefixed `api`)."""

    auth: str  # "iam" | "jwt"
    jwt_issuer: str | None
    jwt_audiences: tuple[str, ...]
    cors_origins: tuple[str, ...]
    throttle_rate_limit: int
    throttle_burst_limit: int
    url_ttl_seconds: int
    memory_mb: int
    powertools_layer_arn: str | None


@dataclass(frozen=True)
class Settings:
    project: str
    stack: str
    class_names: tuple[str, ...]
    upload_prefix: str
    timezone: str
    architecture: str
    inference_runtime: str
    model_precision: str
    model: ModelSource
    memory_mb: int
    timeout_seconds: int
    ephemeral_storage_mb: int
    batch_size: int
    batching_window_seconds: int
    max_concurrency: int
    reserved_concurrency: int | None
    max_receive_count: int
    event_retry_attempts: int
    event_max_age_seconds: int
    tracing: bool
    snap_start: bool
    log_level: str
    log_retention_days: int
    max_image_bytes: int
    image_formats: tuple[str, ...]
    noncurrent_version_days: int
    abort_multipart_days: int
    ecr_keep_images: int
    protect: bool
    api: ApiSettings

    @property
    def name(self) -> str:
        """Prefix of every resource name: two stacks never collide in one account."""
        return f"{self.project}-{self.stack}"

    @property
    def platform(self) -> str:
        return ARCHITECTURES[self.architecture]

    @property
    def queue_visibility_timeout_seconds(self) -> int:
        # AWS asks for at least 6x the function timeout so a batch that is still being retried
        # by the poller is not handed to a second execution environment.
        return 6 * self.timeout_seconds


def load_settings(config: ConfigReader, project: str, stack: str) -> Settings:
    """Build and validate the settings; raise SettingsError on the first bad key."""
    r = _Reader(config)
    timeout = r.integer("functionTimeoutSeconds", 300, 1, 900)
    ephemeral = r.integer("ephemeralStorageMb", 512, 512, 10240)
    snap_start = r.boolean("snapStart", False)
    if snap_start and ephemeral > 512:
        raise SettingsError(
            f"ephemeralStorageMb: SnapStart supports at most 512 MB of ephemeral storage, got "
            f"{ephemeral}; set ephemeralStorageMb to 512 or snapStart to false"
        )
    reserved = r.optional_integer("reservedConcurrency", 0, 1000)
    max_concurrency = r.integer("maxConcurrency", 10, 2, 1000)
    if reserved is not None and reserved < max_concurrency:
        # With fewer reserved slots than the poller's concurrency, SQS batches get throttled
        # and pushed towards the DLQ for no fault of their own.
        raise SettingsError(
            f"reservedConcurrency: must be at least maxConcurrency ({max_concurrency}) so the "
            f"queue poller is never throttled, got {reserved}"
        )
    runtime = r.choice("inferenceRuntime", "litert", RUNTIMES)
    precision = r.choice("modelPrecision", "float32", PRECISIONS)
    if precision != "float32" and runtime != "litert":
        raise SettingsError(
            f"modelPrecision: {precision} is a LiteRT conversion; with inferenceRuntime {runtime} use float32"
        )
    batch_size = r.integer("batchSize", 10, 1, 10000)
    window = r.integer("batchingWindowSeconds", 0 if batch_size <= 10 else 1, 0, 300)
    if batch_size > 10 and window == 0:
        raise SettingsError(
            "batchingWindowSeconds: SQS batch sizes above 10 need a batching window of at least "
            f"1 second (batchSize is {batch_size})"
        )
    return Settings(
        project=project,
        stack=stack,
        class_names=_class_names(r),
        upload_prefix=_upload_prefix(r),
        timezone=_timezone(r),
        architecture=r.choice("architecture", "x86_64", tuple(ARCHITECTURES)),
        inference_runtime=runtime,
        model_precision=precision,
        model=_model_source(r),
        memory_mb=r.integer("functionMemoryMb", 7168, 128, 10240),
        timeout_seconds=timeout,
        ephemeral_storage_mb=ephemeral,
        batch_size=batch_size,
        batching_window_seconds=window,
        max_concurrency=max_concurrency,
        reserved_concurrency=reserved,
        max_receive_count=r.integer("maxReceiveCount", 5, 1, 1000),
        event_retry_attempts=r.integer("eventRetryAttempts", 185, 0, 185),
        event_max_age_seconds=r.integer("eventMaxAgeSeconds", 86400, 60, 86400),
        tracing=r.boolean("tracing", False),
        snap_start=snap_start,
        log_level=r.choice("logLevel", "INFO", LOG_LEVELS),
        log_retention_days=r.choice_int("logRetentionDays", 14, LOG_RETENTION_DAYS),
        max_image_bytes=r.integer("maxImageBytes", 25 * 1024 * 1024, 1024, 1024**3),
        image_formats=_image_formats(r),
        noncurrent_version_days=r.integer("noncurrentVersionDays", 30, 1, 3650),
        abort_multipart_days=r.integer("abortMultipartDays", 7, 1, 365),
        ecr_keep_images=r.integer("ecrKeepImages", 10, 1, 1000),
        protect=r.boolean("protect", False),
        api=_api_settings(r),
    )


class _Reader:
    def __init__(self, config: ConfigReader) -> None:
        self._config = config

    def raw(self, key: str) -> str | None:
        value = self._config.get(key)
        return None if value is None or value.strip() == "" else value.strip()

    def integer(self, key: str, default: int, low: int, high: int) -> int:
        value = self.optional_integer(key, low, high)
        return default if value is None else value

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        raw = self.raw(key)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{key}: expected a whole number from {low} to {high}, got {raw!r}") from None
        if not low <= value <= high:
            raise SettingsError(f"{key}: must be from {low} to {high}, got {value}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        raw = self.raw(key)
        if raw is None:
            return default
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise SettingsError(f"{key}: expected true or false, got {raw!r}")

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        raw = self.raw(key)
        if raw is None:
            return default
        if raw not in allowed:
            raise SettingsError(f"{key}: must be one of {', '.join(allowed)}; got {raw!r}")
        return raw

    def choice_int(self, key: str, default: int, allowed: tuple[int, ...]) -> int:
        raw = self.raw(key)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) not in allowed:
            listed = ", ".join(str(a) for a in allowed)
            raise SettingsError(f"{key}: must be one of {listed}; got {raw!r}")
        return int(raw)

    def string_list(self, key: str) -> list[str] | None:
        """A JSON list (`pulumi config set --path`) or a comma-separated string."""
        raw = self.raw(key)
        if raw is None:
            return None
        if raw.startswith("["):
            try:
                parsed = json.loads(raw)
            except json.JSONDecodeError as err:
                raise SettingsError(f"{key}: not a valid JSON list ({err.msg})") from None
            if not isinstance(parsed, list) or not all(isinstance(p, str) for p in parsed):
                raise SettingsError(f"{key}: expected a list of strings, got {raw}")
            return [p.strip() for p in parsed]
        return [part.strip() for part in raw.split(",")]


def _class_names(r: _Reader) -> tuple[str, ...]:
    names = r.string_list("classNames")
    if names is None:
        return DEFAULT_CLASSES
    if not names or names == [""]:
        raise SettingsError("classNames: must list at least one class, e.g. AAW,ECLW,FAW")
    for name in names:
        if not CLASS_NAME.match(name):
            raise SettingsError(
                f"classNames: {name!r} is not allowed; use 1-64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        if name.upper() in RESERVED_CLASS_NAMES:
            raise SettingsError(f"classNames: {name!r} is reserved for the table's own items")
    if len(set(names)) != len(names):
        raise SettingsError(f"classNames: names must be unique, got {', '.join(names)}")
    return tuple(names)


def _upload_prefix(r: _Reader) -> str:
    prefix = r.raw("uploadPrefix") or "uploads/"
    if not PREFIX.match(prefix) or len(prefix) > 256:
        raise SettingsError(
            f"uploadPrefix: must be a relative S3 key prefix ending in '/', such as 'uploads/', "
            f"made of letters, digits and !_.*'()-; got {prefix!r}"
        )
    return prefix


def _timezone(r: _Reader) -> str:
    zone = r.raw("timezone") or "Africa/Lagos"
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"timezone: {zone!r} is not an IANA time zone name (e.g. Africa/Lagos, UTC)") from None
    return zone


def _image_formats(r: _Reader) -> tuple[str, ...]:
    formats = r.string_list("imageFormats")
    if formats is None:
        return IMAGE_FORMATS
    upper = [f.upper() for f in formats]
    unknown = [f for f in upper if f not in IMAGE_FORMATS]
    if not upper or unknown:
        raise SettingsError(
            f"imageFormats: must be a non-empty list from {', '.join(IMAGE_FORMATS)}; "
            f"got {', '.join(formats) or 'nothing'}"
        )
    return tuple(dict.fromkeys(upper))


def _api_settings(r: _Reader) -> ApiSettings:
    auth = r.choice("apiAuth", "iam", API_AUTH)
    issuer = r.raw("apiJwtIssuer")
    audiences = tuple(a for a in (r.string_list("apiJwtAudiences") or []) if a)
    if auth == "jwt" and (issuer is None or not audiences):
        raise SettingsError(
            "apiJwtIssuer, apiJwtAudiences: apiAuth jwt needs the token issuer (an https:// URL) and at least "
            "one audience (your app client id)"
        )
    if auth != "jwt" and (issuer is not None or audiences):
        raise SettingsError("apiJwtIssuer, apiJwtAudiences: set only with apiAuth jwt (apiAuth is iam)")
    if issuer is not None and not issuer.startswith("https://"):
        raise SettingsError(f"apiJwtIssuer: must be an https:// URL, got {issuer!r}")
    origins = tuple(o for o in (r.string_list("apiCorsOrigins") or []) if o)
    bad = [o for o in origins if not ORIGIN.match(o)]
    if bad:
        raise SettingsError(
            f"apiCorsOrigins: each origin must be https://host[:port], http://localhost[:port] or *; got {bad}"
        )
    layer = r.raw("apiPowertoolsLayerArn")
    if layer is not None and not LAYER_ARN.match(layer):
        raise SettingsError(
            f"apiPowertoolsLayerArn: expected a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:N), "
            f"got {layer!r}"
        )
    return ApiSettings(
        auth=auth,
        jwt_issuer=issuer,
        jwt_audiences=audiences,
        cors_origins=origins,
        throttle_rate_limit=r.integer("apiThrottleRate", 50, 1, 10_000),
        throttle_burst_limit=r.integer("apiThrottleBurst", 100, 1, 5_000),
        url_ttl_seconds=r.integer("apiUrlTtlSeconds", 300, 60, 3_600),
        memory_mb=r.integer("apiMemoryMb", 512, 128, 10_240),
        powertools_layer_arn=layer,
    )


def _model_source(r: _Reader) -> ModelSource:
    location = r.raw("modelSource") or f"{LOCAL_MODEL_ROOT}/demo"
    digest = r.raw("modelSha256")
    if digest is not None and not SHA256.match(digest.lower()):
        raise SettingsError(f"modelSha256: expected 64 hex digits, got {digest!r}")
    parsed = urlparse(location)
    if parsed.scheme in ("https", "s3"):
        if not parsed.netloc or not parsed.path.strip("/"):
            raise SettingsError(f"modelSource: {location!r} names no object")
        if not parsed.path.endswith((".tar.gz", ".tgz", ".tar", ".zip")):
            raise SettingsError(
                f"modelSource: a remote model must be an archive (.tar.gz, .tgz, .tar or .zip); got {location!r}"
            )
        if parsed.scheme == "https" and digest is None:
            raise SettingsError(
                "modelSha256: required with an https:// modelSource, so the image build can check what it downloaded"
            )
        return ModelSource(parsed.scheme, location, digest.lower() if digest else None)
    if parsed.scheme:
        raise SettingsError(
            f"modelSource: use a local path under {LOCAL_MODEL_ROOT}/, an s3:// or an https:// "
            f"archive; got scheme {parsed.scheme!r}"
        )
    path = PurePosixPath(location)
    if path.is_absolute() or ".." in path.parts or path.parts[:1] != (LOCAL_MODEL_ROOT,):
        raise SettingsError(
            f"modelSource: a local model must be a relative path under {LOCAL_MODEL_ROOT}/ "
            f"(the only model folder the image build can see); got {location!r}"
        )
    return ModelSource("local", str(path), digest.lower() if digest else None)
