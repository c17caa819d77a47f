"""The function's configuration: the contract between the Pulumi program and the handler.

The program builds it from stack settings and turns it into the function's environment; the
handler reads it back once per execution environment. Standard library only: the Pulumi program
imports this module too.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_MODEL_DIR = "/opt/model"


@dataclass(frozen=True)
class FunctionConfig:
    table_name: str
    class_names: tuple[str, ...]
    upload_prefix: str = "uploads/"
    timezone: str = "Africa/Lagos"
    inference_runtime: str = "litert"
    max_image_bytes: int = 25 * 1024 * 1024
    image_formats: tuple[str, ...] = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO")
    model_dir: str = DEFAULT_MODEL_DIR
    service_name: str = "image-classifier"
    log_level: str = "INFO"
    metrics_namespace: str = "ImageClassifier"

    def to_environment(self) -> dict[str, str]:
        return {
            "TABLE_NAME": self.table_name,
            "CLASS_NAMES": ",".join(self.class_names),
            "UPLOAD_PREFIX": self.upload_prefix,
            "TIMEZONE": self.timezone,
            "INFERENCE_RUNTIME": self.inference_runtime,
            "MAX_IMAGE_BYTES": str(self.max_image_bytes),
            "IMAGE_FORMATS": ",".join(self.image_formats),
            "MODEL_DIR": self.model_dir,
            "POWERTOOLS_SERVICE_NAME": self.service_name,
            "POWERTOOLS_LOG_LEVEL": self.log_level,
            "POWERTOOLS_METRICS_NAMESPACE": self.metrics_namespace,
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> FunctionConfig:
        env = os.environ if environ is None else environ
        missing = [key for key in ("TABLE_NAME", "CLASS_NAMES") if not env.get(key)]
        if missing:
            raise RuntimeError(f"function environment lacks {', '.join(missing)}")
        defaults = cls(table_name="", class_names=())
        return cls(
            table_name=env["TABLE_NAME"],
            class_names=tuple(n for n in env["CLASS_NAMES"].split(",") if n),
            upload_prefix=env.get("UPLOAD_PREFIX", defaults.upload_prefix),
            timezone=env.get("TIMEZONE", defaults.timezone),
            inference_runtime=env.get("INFERENCE_RUNTIME", defaults.inference_runtime),
            max_image_bytes=int(env.get("MAX_IMAGE_BYTES", defaults.max_image_bytes)),
            image_formats=tuple(f for f in env.get("IMAGE_FORMATS", ",".join(defaults.image_formats)).split(",") if f),
            model_dir=env.get("MODEL_DIR", defaults.model_dir),
            service_name=env.get("POWERTOOLS_SERVICE_NAME", defaults.service_name),
            log_level=env.get("POWERTOOLS_LOG_LEVEL", defaults.log_level),
            metrics_namespace=env.get("POWERTOOLS_METRICS_NAMESPACE", defaults.metrics_namespace),
        )
