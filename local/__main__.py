"""The embedded local cloud's command line: `python -m local up | demo | results`."""

from __future__ import annotations

import json
import signal
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from classifier.events import UploadedObject
from classifier.records import object_digest
from components.model_fetch import ModelFetchError
from components.settings import SettingsError
from local.cloud import STATE_FILE, LocalCloud
from local.iam_report import IamReport
from local.results import Results
from local.samples import Sample, samples
from local.server import PortInUseError, local_client

app = typer.Typer(add_completion=False, help="The image-classification pipeline on an embedded local cloud (moto).")
err = Console(stderr=True)
out = Console()

Port = Annotated[int, typer.Option(help="Loopback port for the local AWS endpoint.")]
Stack = Annotated[str, typer.Option(help="Stack whose Pulumi.<stack>.yaml configures the program.")]
Workers = Annotated[
    int | None, typer.Option(help="Function execution environments (default: min(maxConcurrency, CPUs)).")
]
ConfigOption = Annotated[
    list[str] | None,
    typer.Option("--config", "-c", help="Override a stack setting, KEY=VALUE (as `pulumi config set`); repeatable."),
]


def _config(pairs: list[str] | None) -> dict[str, str]:
    config = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            err.print(f"[red]--config takes KEY=VALUE, got {pair!r}[/red]")
            raise typer.Exit(2)
        config[key if ":" in key else f"image-classifier:{key}"] = value
    return config


def _client(summary: dict[str, Any], service: str) -> Any:
    return local_client(service, summary["endpoint_url"], summary["region"])


def _start(port: int, stack: str, workers: int | None, config: dict[str, str]) -> LocalCloud:
    try:
        with err.status("starting moto, deploying the stack, cold-starting the function..."):
            return LocalCloud(port=port, stack=stack, workers=workers, config=config).start()
    except (PortInUseError, SettingsError, ModelFetchError) as error:
        err.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


def _describe(cloud: LocalCloud) -> None:
    assert cloud.resources is not None and cloud.runner is not None
    err.print(f"[green]created[/green] {len(cloud.resources.created)} resources from the Pulumi program")
    for line in cloud.resources.skipped:
        err.print(f"  [dim]not created: {line}[/dim]")
    starts = ", ".join(f"{c:.2f}s" for c in cloud.runner.cold_starts)
    err.print(f"[green]function[/green] {cloud.runner.workers} execution environment(s), cold starts {starts}")
    err.print(f"[dim]function logs: {cloud.run_dir}/function-*.log[/dim]")


@app.command()
def up(port: Port = 4566, stack: Stack = "dev", workers: Workers = None, config: ConfigOption = None) -> None:
    """Start the local cloud and serve until Ctrl-C (SIGINT) or SIGTERM."""
    cloud = _start(port, stack, workers, _config(config))
    _describe(cloud)
    summary = cloud.summary()
    print(
        json.dumps(
            {
                k: summary[k]
                for k in (
                    "endpoint_url",
                    "api_url",
                    "region",
                    "bucket",
                    "upload_prefix",
                    "table",
                    "queue_url",
                    "dlq_url",
                )
            }
        ),
        flush=True,
    )
    err.print(
        f"upload with: aws --endpoint-url {summary['endpoint_url']} s3 cp photo.jpg "
        f"s3://{summary['bucket']}/{summary['upload_prefix']}\n(credentials: any; region {summary['region']})\n"
        f"or through the API: curl -X POST {summary['api_url']}/uploads (see README, 'The results API')"
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    stopping.wait()
    err.print("stopping...")
    cloud.stop()
    cloud.cleanup()


def _upload_all(summary: dict[str, Any]) -> list[tuple[Sample, UploadedObject]]:
    s3 = _client(summary, "s3")
    uploaded = []
    for sample in samples():
        key = f"{summary['upload_prefix']}demo/{sample.name}"
        version = s3.put_object(Bucket=summary["bucket"], Key=key, Body=sample.data).get("VersionId")
        uploaded.append((sample, UploadedObject(summary["bucket"], key, version, len(sample.data), None, None)))
    uploaded.append(_vanished_upload(summary, s3))
    return uploaded


def _upload_through_api(summary: dict[str, Any], sample: Sample) -> tuple[Sample, UploadedObject]:
    """What the mobile app does: ask the API for a presigned POST, then POST the photo to S3."""
    import requests

    grant = requests.post(f"{summary['api_url']}/uploads", json={"content_type": "image/jpeg"}, timeout=30)
    grant.raise_for_status()
    post = grant.json()
    sent = requests.post(post["url"], data=post["fields"], files={"file": (sample.name, sample.data)}, timeout=60)
    sent.raise_for_status()
    # S3 answers a POST with x-amz-version-id; moto does not, so ask for the version.
    version = _client(summary, "s3").head_object(Bucket=summary["bucket"], Key=post["key"]).get("VersionId")
    note = f"{sample.note}, uploaded through POST /uploads"
    return Sample(f"api-{sample.name}", sample.data, sample.expect, note), UploadedObject(
        summary["bucket"], post["key"], version, len(sample.data), None, None
    )


def _vanished_upload(summary: dict[str, Any], s3: Any) -> tuple[Sample, UploadedObject]:
    """A photo whose version is permanently deleted before the function gets to it.

    Uploading and deleting at once would race the function, so the demo stores and deletes the
    version outside the upload prefix, then delivers the event S3 would have sent for it.
    """
    key = f"{summary['upload_prefix']}demo/deleted-before-processing.jpg"
    version = s3.put_object(
        Bucket=summary["bucket"], Key=key.replace(summary["upload_prefix"], "staging/", 1), Body=b"x"
    )["VersionId"]
    s3.delete_object(
        Bucket=summary["bucket"], Key=key.replace(summary["upload_prefix"], "staging/", 1), VersionId=version
    )
    event = {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": summary["region"],
        "resources": [f"arn:aws:s3:::{summary['bucket']}"],
        "detail": {
            "version": "0",
            "bucket": {"name": summary["bucket"]},
            "object": {"key": key, "size": 1, "etag": "9dd4e461268c8034f5c8564e155c67a6", "version-id": version},
            "reason": "PutObject",
        },
    }
    _client(summary, "sqs").send_message(QueueUrl=summary["queue_url"], MessageBody=json.dumps(event))
    sample = Sample(key.rsplit("/", 1)[-1], b"", "REJECTED", "version deleted before processing")
    return sample, UploadedObject(summary["bucket"], key, version, 1, None, None)


def _wait(results: Results, uploaded: list[tuple[Sample, UploadedObject]], timeout: float) -> dict[str, dict[str, Any]]:
    pending = {object_digest(obj): obj for _, obj in uploaded}
    done: dict[str, dict[str, Any]] = {}
    columns = (TextColumn("classifying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err) as progress:
        task = progress.add_task("uploads", total=len(pending))
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            for digest in list(pending):
                claim = results.claim(digest)
                if claim is not None:
                    done[pending.pop(digest).key] = claim
                    progress.advance(task)
            time.sleep(0.2)
    return done


def _predictions_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in ("object", "status", "class", "score", "count", "reason", "time"):
        table.add_column(column, overflow="fold")
    for row in sorted(rows, key=lambda r: (r.get("ClassName", "~"), r.get("Count_ClassName", 0))):
        table.add_row(
            row["ObjectKey"].rsplit("/", 1)[-1],
            row["Status"],
            row.get("ClassName", ""),
            row.get("ConfidenceScore", ""),
            str(row.get("Count_ClassName", "")),
            row.get("Reason", ""),
            row["CaptureTime"][11:19],
        )
    return table


def _counts_table(counts: dict[str, int], date: str) -> Table:
    table = Table(title=f"Counts for {date}")
    table.add_column("class")
    table.add_column("count", justify="right")
    for name, count in sorted(counts.items()):
        table.add_row(name, str(count))
    return table


@app.command()
def demo(
    port: Port = 4566,
    stack: Stack = "dev",
    workers: Workers = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every upload to be recorded.")] = 300,
    config: ConfigOption = None,
) -> None:
    """Start the local cloud, upload sample images, wait for each, show predictions and counts."""
    cloud = _start(port, stack, workers, _config(config))
    problems: list[str] = []
    try:
        _describe(cloud)
        summary = cloud.summary()
        results = Results(_client(summary, "dynamodb"), summary["table"])
        uploaded = _upload_all(summary)
        err.print(f"uploaded {len(uploaded)} files to s3://{summary['bucket']}/{summary['upload_prefix']}demo/")
        photo = next(sample for sample in samples() if sample.expect == "CLASSIFIED")
        uploaded.append(_upload_through_api(summary, photo))
        err.print(f"uploaded {photo.name} through the API: POST {summary['api_url']}/uploads, then the presigned POST")
        done = _wait(results, uploaded, timeout)
        missing = [obj.key for _, obj in uploaded if obj.key not in done]
        if missing:
            problems.append(f"{len(missing)} upload(s) not recorded within {timeout:.0f}s: {', '.join(missing)}")
        for sample, obj in uploaded:
            claim = done.get(obj.key)
            if claim is not None and claim["Status"] != sample.expect:
                problems.append(f"{obj.key} ({sample.note}) was {claim['Status']}, expected {sample.expect}")
        dates = sorted({claim["RecordDate"] for claim in done.values()})
        for date in dates:
            out.print(_predictions_table(results.predictions(date), f"Predictions for {date}"))
            out.print(_counts_table(results.counts(date), date))
        problems.extend(_check_api(summary, dates, results))
        sqs = _client(summary, "sqs")
        for name in ("dlq_url", "delivery_dlq_url"):
            attributes = sqs.get_queue_attributes(
                QueueUrl=summary[name], AttributeNames=["ApproximateNumberOfMessages"]
            )
            if int(attributes["Attributes"]["ApproximateNumberOfMessages"]):
                problems.append(f"messages are waiting in {summary[name]}")
        assert cloud.resources is not None
        report = IamReport.from_run(cloud.resources.function.role_policies, cloud.run_dir)
        err.print(
            f"[green]IAM[/green] the run used {len(report.used)} of the role's {len(report.granted)} granted actions"
        )
        if report.denied:
            problems.append(f"calls the role policy does not allow: {report.denied}")
        if report.unused:
            err.print(f"[yellow]granted but not used in this run:[/yellow] {', '.join(sorted(report.unused))}")
        if cloud.resources.api is not None:
            api_report = IamReport.from_run(cloud.resources.api.role_policies, cloud.run_dir, "iam-usage-api*.jsonl")
            err.print(
                f"[green]IAM[/green] the API used {len(api_report.used)} of its role's "
                f"{len(api_report.granted)} granted actions: {', '.join(sorted(api_report.used))}"
            )
            if api_report.denied:
                problems.append(f"calls the API role policy does not allow: {api_report.denied}")
    finally:
        cloud.stop()
        cloud.cleanup()
    if problems:
        for problem in problems:
            err.print(f"[red]x[/red] {problem}")
        raise typer.Exit(1)
    err.print("[green]every upload was recorded exactly once; nothing lost[/green]")


def _check_api(summary: dict[str, Any], dates: list[str], results: Results) -> list[str]:
    """Read the day back through the API, as the app would, and compare with the table."""
    import requests

    problems = []
    for date in dates:
        counts = requests.get(f"{summary['api_url']}/counts", params={"date": date}, timeout=30).json()
        stored = {k: v for k, v in results.counts(date).items() if k != "REJECTED"}
        if {k: v for k, v in counts["counts"].items() if v} != stored:
            problems.append(f"GET /counts?date={date} says {counts['counts']}, the table {stored}")
        listed, token = 0, None
        while True:
            params: dict[str, str | int] = {"date": date, "limit": 5, **({"next": token} if token else {})}
            page = requests.get(f"{summary['api_url']}/predictions", params=params, timeout=30).json()
            listed += len(page["items"])
            token = page.get("next")
            if not token:
                break
        err.print(
            f"[green]API[/green] {date}: GET /counts {counts['counts']} (rejected {counts['rejected']}), "
            f"GET /predictions listed {listed} in pages of 5"
        )
        if listed != len(results.predictions(date)):
            problems.append(
                f"GET /predictions?date={date} listed {listed}, the table holds {len(results.predictions(date))}"
            )
    return problems


def _running_cloud(overrides: dict[str, str | None], need: tuple[str, ...]) -> dict[str, Any]:
    """What the running `local up` wrote to its state file, with any options given on top."""
    summary: dict[str, Any] = json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}
    summary.update({k: v for k, v in overrides.items() if v})
    if not all(summary.get(key) for key in need):
        options = " and ".join(f"--{k.replace('_', '-')}" for k in need if k in overrides)
        err.print(f"[red]no local cloud is running: start `python -m local up` or pass {options}[/red]")
        raise typer.Exit(2)
    summary.setdefault("region", "eu-west-1")
    return summary


@app.command()
def results(
    date: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: today in the stack's timezone).")] = None,
    class_name: Annotated[str | None, typer.Option("--class", help="Only this class.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")] = False,
    endpoint_url: Annotated[str | None, typer.Option(help="Local endpoint (default: the running `local up`).")] = None,
    table: Annotated[str | None, typer.Option(help="Predictions table (default: the running `local up`'s).")] = None,
    timezone: Annotated[str, typer.Option(help="Zone that defines 'today'.")] = "Africa/Lagos",
) -> None:
    """Predictions and per-class counts for a day, from a running local cloud."""
    summary = _running_cloud({"endpoint_url": endpoint_url, "table": table}, need=("endpoint_url", "table"))
    day = date or datetime.now(ZoneInfo(timezone)).date().isoformat()
    reader = Results(_client(summary, "dynamodb"), summary["table"])
    rows, counts = reader.predictions(day, class_name), reader.counts(day)
    if as_json:
        print(json.dumps({"date": day, "predictions": rows, "counts": counts}, indent=2, default=str))
        return
    out.print(_predictions_table(rows, f"Predictions for {day}"))
    out.print(_counts_table(counts, day))


def _move_messages(sqs: Any, source: str, target: str) -> int:
    """Move every message from one queue to another: send a copy, then delete the original."""
    moved = 0
    while True:
        messages = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
            "Messages", []
        )
        if not messages:
            return moved
        for message in messages:
            sqs.send_message(QueueUrl=target, MessageBody=message["Body"])
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


@app.command()
def redrive(
    source: Annotated[str, typer.Option("--from", help="processing, delivery or all")] = "all",
    endpoint_url: Annotated[str | None, typer.Option(help="Local endpoint (default: the running `local up`).")] = None,
) -> None:
    """Send dead-lettered messages back to the upload queue, to be classified again.

    On AWS the same is `aws sqs start-message-move-task --source-arn <processing DLQ ARN>` (back
    to the queue it came from) or the console's "Start DLQ redrive".
    """
    summary = _running_cloud({"endpoint_url": endpoint_url}, need=("endpoint_url", "queue_url"))
    if source not in ("processing", "delivery", "all"):
        err.print("[red]--from takes processing, delivery or all[/red]")
        raise typer.Exit(2)
    sqs = _client(summary, "sqs")
    queues = {"processing": summary["dlq_url"], "delivery": summary["delivery_dlq_url"]}
    for name, url in queues.items():
        if source in (name, "all"):
            moved = _move_messages(sqs, url, summary["queue_url"])
            out.print(f"{name} DLQ: {moved} message(s) sent back to the upload queue")


if __name__ == "__main__":
    app()
