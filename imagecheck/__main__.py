"""python -m imagecheck [--runtime litert --runtime tensorflow] [--stack dev] [-c KEY=VALUE ...]

For each runtime: build lambda_src/Dockerfile with buildah from the stand-in base (only BASE_IMAGE
differs), check architecture, manifest form, size by layer group, required files and the model's
load time inside the image, then invoke the handler inside the image on a real upload event from
the local cloud and check the record it writes.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from imagecheck import buildah
from imagecheck.checks import (
    LAMBDA_MAX_UNCOMPRESSED_BYTES,
    CheckFailed,
    check_architecture,
    check_files,
    check_load_time,
    check_manifest,
    check_size,
    layer_groups,
)
from local.program import PROJECT_ROOT, run_stack

app = typer.Typer(add_completion=False, help="Build the function image with buildah and check it before deploy.")
out = Console(stderr=True, width=150)

MODEL_FILES = {"litert": "/opt/model/model.tflite", "tensorflow": "/opt/model/model.keras"}
LOAD_SCRIPT = """
import json, sys, time
started = time.perf_counter()
sys.path.insert(0, "/var/task")
from classifier.model import load_classifier
import numpy as np
model = load_classifier("/opt/model", sys.argv[1], tuple(sys.argv[2].split(",")))
model.predict(np.zeros((1, 224, 224, 3), dtype=np.float32))
print(json.dumps({"seconds": time.perf_counter() - started}))
"""
INVOKE_SCRIPT = """
import json, os, sys
sys.path.insert(0, "/var/task")
from classifier.handler import lambda_handler

class Context:
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
    invoked_function_arn = "arn:aws:lambda:" + os.environ["AWS_REGION"] + ":123456789012:function:" + function_name
    aws_request_id = "image-check"
    def get_remaining_time_in_millis(self):
        return 300000

print("RESULT " + json.dumps(lambda_handler(json.loads(os.environ["CHECK_EVENT"]), Context())))
"""


def check_runtime(runtime: str, stack: str, config: dict[str, str]) -> dict[str, Any]:
    settings = {**config, "image-classifier:inferenceRuntime": runtime}
    deployment = run_stack(stack, settings)  # also stages the stack's model as models/.build
    image = deployment.one("docker:index/image:Image").inputs
    function = next(
        f for f in deployment.of_type("aws:lambda/function:Function") if f.inputs.get("packageType") == "Image"
    ).inputs
    tag = f"localhost/image-classifier-check:{runtime}"

    started = time.monotonic()
    buildah.build(
        PROJECT_ROOT,
        PROJECT_ROOT / "lambda_src" / "Dockerfile",
        tag,
        image["build"]["platform"],
        {**image["build"]["args"], "BASE_IMAGE": buildah.stand_in_base()},
    )
    report: dict[str, Any] = {"runtime": runtime, "build_seconds": time.monotonic() - started}
    report |= check_image(tag, function["architectures"][0])

    container = buildah.Container(tag)
    try:
        report |= check_inside(container, runtime, function["environment"]["variables"]["CLASS_NAMES"])
        report["recorded"] = invoke_in_image(container, stack, settings)
    finally:
        container.remove()
    return report


def check_image(
    tag: str, function_architecture: str, size_limit: int = LAMBDA_MAX_UNCOMPRESSED_BYTES
) -> dict[str, Any]:
    """What the image is, from its manifest and config: checked against what Lambda accepts."""
    facts = buildah.inspect(tag)
    check_architecture(facts.architecture, function_architecture)
    check_manifest(facts.manifest_media_type)
    groups = layer_groups(facts.layers, buildah.layer_count(buildah.stand_in_base()))
    check_size(groups, size_limit)
    return {"architecture": facts.architecture, "manifest": facts.manifest_media_type, "groups": groups}


def check_inside(container: buildah.Container, runtime: str, classes: str) -> dict[str, Any]:
    """The files the handler needs are there, and the model loads within the init budget."""
    required = [MODEL_FILES[runtime], "/opt/model/metadata.json", "/var/task/classifier/handler.py"]
    check_files(container.files(*required), required)
    try:
        loaded = json.loads(container.run("python3", "-c", LOAD_SCRIPT, runtime, classes).splitlines()[-1])
    except RuntimeError as err:
        raise CheckFailed(f"model load: the model does not load inside the image:\n{err}") from None
    return {"load_seconds": loaded["seconds"], "warning": check_load_time(loaded["seconds"])}


def invoke_in_image(container: buildah.Container, stack: str, settings: dict[str, str]) -> str:
    """Upload a photo to the local cloud, hand its queue message to the handler inside the image,
    and return the status of the record it wrote."""
    from classifier.events import UploadedObject
    from classifier.records import object_digest
    from local.cloud import LocalCloud
    from local.results import Results
    from local.runner import lambda_environment, sqs_record
    from local.samples import samples
    from local.server import free_port, local_client

    cloud = LocalCloud(port=free_port(), stack=stack, config=settings, serve=False).start()
    try:
        assert cloud.resources is not None
        spec, region = cloud.resources.function, cloud.resources.region
        s3 = local_client("s3", cloud.endpoint_url, region)
        sqs = local_client("sqs", cloud.endpoint_url, region)
        photo = next(sample for sample in samples() if sample.expect == "CLASSIFIED")
        key = f"{cloud.resources.upload_prefix}image-check/{photo.name}"
        version = s3.put_object(Bucket=cloud.resources.bucket, Key=key, Body=photo.data)["VersionId"]
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=spec.queue_url, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            raise CheckFailed("end to end: the upload's event never reached the queue")
        event = {"Records": [sqs_record(m, spec, region) for m in messages]}
        environment = {
            **lambda_environment(spec.environment, spec.name, spec.memory_mb, cloud.endpoint_url, region),
            "MODEL_DIR": "/opt/model",
            "CHECK_EVENT": json.dumps(event),
        }
        output = container.run("python3", "-c", INVOKE_SCRIPT, env=environment)
        result = json.loads(next(line for line in output.splitlines() if line.startswith("RESULT "))[7:])
        if result.get("batchItemFailures"):
            raise CheckFailed(f"end to end: the handler in the image failed the message: {output[-2000:]}")
        digest = object_digest(UploadedObject(cloud.resources.bucket, key, version, None, None, None))
        claim = Results(local_client("dynamodb", cloud.endpoint_url, region), cloud.resources.table).claim(digest)
        if claim is None:
            raise CheckFailed("end to end: the handler in the image returned but wrote no record")
        return str(claim["Status"])
    finally:
        cloud.stop()
        cloud.cleanup()


def _summary(reports: list[dict[str, Any]]) -> Table:
    table = Table(title="function image, built with buildah from the stand-in base")
    for column in ("runtime", "arch", "manifest", "base", "dependencies", "model", "code", "total", "load", "e2e"):
        table.add_column(column)
    for r in reports:
        groups = r["groups"]
        table.add_row(
            r["runtime"],
            r["architecture"],
            r["manifest"].rsplit("/", 1)[-1],
            *(f"{groups[g] / 1e6:,.2f} MB" for g in ("base", "dependencies", "model", "code")),
            f"{sum(groups.values()) / 1e9:.2f} GB",
            f"{r['load_seconds']:.2f} s",
            r["recorded"],
        )
    return table


@app.command()
def main(
    runtime: Annotated[list[str] | None, typer.Option(help="litert, tensorflow (default: both)")] = None,
    stack: Annotated[str, typer.Option(help="Stack whose settings the image is built for.")] = "dev",
    config: Annotated[list[str] | None, typer.Option("--config", "-c", help="KEY=VALUE stack setting")] = None,
) -> None:
    """Build and check the function image for each runtime the stack can choose."""
    buildah.require_tools()
    if not (PROJECT_ROOT / "models" / "demo" / "model.keras").is_file():
        out.print("[red]the demo model is missing: run `make model` first[/red]")
        raise typer.Exit(2)
    overrides = {}
    for pair in config or []:
        key, _, value = pair.partition("=")
        overrides[key if ":" in key else f"image-classifier:{key}"] = value
    reports = []
    for name in runtime or ["litert", "tensorflow"]:
        out.print(f"building and checking the {name} image...")
        try:
            reports.append(check_runtime(name, stack, overrides))
        except CheckFailed as failure:
            out.print(f"[red]x {name}: {failure}[/red]")
            raise typer.Exit(1) from None
        if reports[-1]["warning"]:
            out.print(f"[yellow]! {name}: {reports[-1]['warning']}[/yellow]")
    out.print(_summary(reports))
    print(json.dumps(reports, default=str))
    out.print("[green]every image passed[/green]")


if __name__ == "__main__":
    sys.exit(app())
