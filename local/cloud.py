"""The embedded local cloud: moto on loopback + the stack the program declares + the function runner
+ the results API on a loopback port of its own."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.api_gateway import LocalApiGateway
from local.deploy import Deployer, LocalStack
from local.program import DEFAULT_REGION, PROJECT_ROOT, Deployment, run_stack
from local.runner import FunctionRunner
from local.server import MotoServer, PortInUseError, ensure_port_free, free_port

STATE_FILE = PROJECT_ROOT / ".local-cloud.json"
LOCAL_VISIBILITY_SECONDS = 20
"""The queue's visibility timeout locally: a failed message comes back in seconds, not the
deployed 6x function timeout, so retries and the DLQ can be watched during a demo."""


def prepare_model(model_dir: Path, runtime: str, precision: str = "float32") -> Path:
    """The model folder the runtime needs, converted with the same module and settings the image
    build uses (lambda_src/Dockerfile), so local runs serve what AWS will."""
    if runtime != "litert":
        return model_dir
    existing = model_dir / "model.tflite"
    if (
        precision == "float32"
        and existing.is_file()
        and existing.stat().st_mtime >= (model_dir / "model.keras").stat().st_mtime
    ):
        return model_dir  # converted and parity-checked by the same module (`make model`)
    from modelkit.convert import convert

    digest = hashlib.sha256((model_dir / "model.keras").read_bytes()).hexdigest()[:16]
    target = PROJECT_ROOT / "models" / ".local" / f"{digest}-{precision}"
    if not (target / "model.tflite").is_file():
        convert(model_dir, target, precision)
    return target


@dataclass
class LocalCloud:
    port: int = 4566
    stack: str = "dev"
    workers: int | None = None
    config: dict[str, str] = field(default_factory=dict)
    visibility_seconds: int = LOCAL_VISIBILITY_SECONDS
    adjust: Callable[[Deployment], None] | None = None
    """Edit what the program declared before it is created (tests narrow the role policy)."""
    handler: str = "classifier.handler:lambda_handler"
    """The function's entry point, "module:function" (benchmarks swap in other handlers)."""
    api_port: int | None = None
    """Loopback port of the local API gateway; default: `port + 1` when free, else any free port."""
    serve: bool = True
    """Run the function and the API locally; False leaves the queue to someone else (the image
    check invokes the function inside its built image)."""

    def __post_init__(self) -> None:
        self.server: MotoServer | None = None
        self.runner: FunctionRunner | None = None
        self.gateway: LocalApiGateway | None = None
        self.deployment: Deployment | None = None
        self.resources: LocalStack | None = None
        self.run_dir = Path(tempfile.mkdtemp(prefix="local-cloud-"))

    @property
    def endpoint_url(self) -> str:
        assert self.server is not None
        return self.server.endpoint_url

    def start(self) -> LocalCloud:
        self.server = MotoServer(self.port).start()
        try:
            self.deployment = run_stack(self.stack, self.config)
            if self.adjust is not None:
                self.adjust(self.deployment)
            region = self.deployment.exports.get("region") or DEFAULT_REGION
            deployer = Deployer(self.deployment, self.endpoint_url, region, self.visibility_seconds)
            self.resources = deployer.deploy()
            if not self.serve:
                return self
            image = self.deployment.one("docker:index/image:Image")
            build_args = image.inputs["build"]["args"]
            model_dir = prepare_model(
                PROJECT_ROOT / build_args["MODEL_DIR"], build_args["INFERENCE_RUNTIME"], build_args["MODEL_PRECISION"]
            )
            workers = self.workers or min(self.resources.function.max_concurrency, os.cpu_count() or 2)
            self.runner = FunctionRunner(
                self.resources.function, self.endpoint_url, region, model_dir, self.run_dir, workers, self.handler
            )
            self.runner.start()
            if self.resources.api is not None:
                self.gateway = LocalApiGateway(
                    self.resources.api, self.endpoint_url, region, self._api_port(), self.run_dir
                ).start()
        except BaseException:
            self.stop()
            raise
        STATE_FILE.write_text(json.dumps(self.summary()))
        return self

    def _api_port(self) -> int:
        if self.api_port is not None:
            ensure_port_free(self.api_port)
            return self.api_port
        try:
            ensure_port_free(self.port + 1)
            return self.port + 1
        except PortInUseError:
            return free_port()

    def summary(self) -> dict[str, Any]:
        assert self.resources is not None
        r = self.resources
        return {
            "endpoint_url": self.endpoint_url,
            "region": r.region,
            "bucket": r.bucket,
            "upload_prefix": r.upload_prefix,
            "table": r.table,
            "queue_url": r.queue_url,
            "dlq_url": r.dlq_url,
            "delivery_dlq_url": r.delivery_dlq_url,
            "function": r.function.name,
            "api_url": self.gateway.url if self.gateway is not None else None,
            "logs": str(self.run_dir),
        }

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.stop()
            self.gateway = None
        if self.runner is not None:
            self.runner.stop()
            self.runner = None
        if self.server is not None:
            self.server.stop()
            self.server = None
        if STATE_FILE.exists():
            STATE_FILE.unlink()

    def cleanup(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> LocalCloud:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
