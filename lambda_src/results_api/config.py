"""The API function's configuration: the contract between the Pulumi program and the handler.

Standard library only: the Pulumi program imports this module to build the environment.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# The upload formats the inference function can decode, as the Content-Type a client sends.
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}
EXTENSIONS = {
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
}


def content_types_for(image_formats: tuple[str, ...]) -> tuple[str, ...]:
    """The Content-Types an upload may declare, from the function's accepted formats (MPO, the
    multi-picture JPEG some cameras write, travels as image/jpeg)."""
    return tuple(dict.fromkeys(CONTENT_TYPES[f] for f in image_formats if f in CONTENT_TYPES))


@dataclass(frozen=True)
class ApiConfig:
    table_name: str
    bucket_name: str
    class_names: tuple[str, ...]
    upload_prefix: str = "uploads/api/"
    """Where presigned uploads go: inside the pipeline's upload prefix, in a folder of the API's own
    (its role may sign uploads there and nowhere else)."""
    timezone: str = "Africa/Lagos"
    max_upload_bytes: int = 25 * 1024 * 1024
    content_types: tuple[str, ...] = ("image/jpeg", "image/png")
    url_ttl_seconds: int = 300
    service_name: str = "image-classifier-api"
    log_level: str = "INFO"

    def to_environment(self) -> dict[str, str]:
        return {
            "TABLE_NAME": self.table_name,
            "BUCKET_NAME": self.bucket_name,
            "CLASS_NAMES": ",".join(self.class_names),
            "UPLOAD_PREFIX": self.upload_prefix,
            "TIMEZONE": self.timezone,
            "MAX_UPLOAD_BYTES": str(self.max_upload_bytes),
            "UPLOAD_CONTENT_TYPES": ",".join(self.content_types),
            "URL_TTL_SECONDS": str(self.url_ttl_seconds),
            "POWERTOOLS_SERVICE_NAME": self.service_name,
            "POWERTOOLS_LOG_LEVEL": self.log_level,
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> ApiConfig:
        env = os.environ if environ is None else environ
        missing = [key for key in ("TABLE_NAME", "BUCKET_NAME", "CLASS_NAMES") if not env.get(key)]
        if missing:
            raise RuntimeError(f"API function environment lacks {', '.join(missing)}")
        d = cls(table_name="", bucket_name="", class_names=())
        return cls(
            table_name=env["TABLE_NAME"],
            bucket_name=env["BUCKET_NAME"],
            class_names=tuple(n for n in env["CLASS_NAMES"].split(",") if n),
            upload_prefix=env.get("UPLOAD_PREFIX", d.upload_prefix),
            timezone=env.get("TIMEZONE", d.timezone),
            max_upload_bytes=int(env.get("MAX_UPLOAD_BYTES", d.max_upload_bytes)),
            content_types=tuple(t for t in env.get("UPLOAD_CONTENT_TYPES", ",".join(d.content_types)).split(",") if t),
            url_ttl_seconds=int(env.get("URL_TTL_SECONDS", d.url_ttl_seconds)),
            service_name=env.get("POWERTOOLS_SERVICE_NAME", d.service_name),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", d.log_level),
        )
