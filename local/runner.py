"""The function runner: local execution environments fed by the emulator's real queue.

Each execution environment is a worker process that imports `lambda_src`'s handler once (the
cold start: the handler loads the model at import, as in Lambda) and then serves many batches
(warm). Each polls the queue the way Lambda's SQS poller does: up to `batch_size` messages,
gathered for at most `batching_window_seconds`, handed to the handler as an SQS event; messages
the handler reports in `batchItemFailures` (or all of them, if it raises) are left for SQS to
redeliver after the visibility timeout, and after `maxReceiveCount` receives SQS moves them to the
dead-letter queue. Every AWS call, the poller's included, passes the local IAM check.
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import os
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.deploy import FunctionSpec

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EMPTY_POLL_PAUSE = 0.025  # short polls: a long poll would hold the emulator's request lock


@dataclass
class WorkerConfig:
    index: int
    endpoint_url: str
    region: str
    spec: FunctionSpec
    model_dir: str
    run_dir: str
    handler: str = "classifier.handler:lambda_handler"
    cpus: tuple[int, ...] = ()
    """CPUs this environment may use: each Lambda environment has vCPUs of its own."""


def share_cpus(workers: int) -> list[tuple[int, ...]]:
    """Split the machine's CPUs between environments when there are enough to go round."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if not cpus or workers > len(cpus):
        return [()] * workers
    return [tuple(cpus[i::workers]) for i in range(workers)]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that Powertools reads."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


def lambda_environment(
    declared: dict[str, str], name: str, memory_mb: int, endpoint_url: str, region: str
) -> dict[str, str]:
    """A function's declared variables plus what Lambda's runtime sets, pointed at the emulator."""
    return {
        **declared,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_SESSION_TOKEN": "local",
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
        "PYTHONUNBUFFERED": "1",
    }


def _environment(config: WorkerConfig) -> dict[str, str]:
    spec = config.spec
    return {
        **lambda_environment(spec.environment, spec.name, spec.memory_mb, config.endpoint_url, config.region),
        "MODEL_DIR": config.model_dir,
        "TF_CPP_MIN_LOG_LEVEL": "2",
    }


def _receive(sqs: Any, spec: FunctionSpec) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + spec.batching_window_seconds
    while len(messages) < spec.batch_size:
        got = sqs.receive_message(
            QueueUrl=spec.queue_url,
            MaxNumberOfMessages=min(10, spec.batch_size - len(messages)),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        messages += got
        if not messages or time.monotonic() >= deadline:
            break
        if not got:
            time.sleep(EMPTY_POLL_PAUSE)
    return messages


def sqs_record(message: dict[str, Any], spec: FunctionSpec, region: str) -> dict[str, Any]:
    from local.fixups import fix_message_body

    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": fix_message_body(message["Body"], message["MessageId"]),
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": spec.queue_arn,
        "awsRegion": region,
    }


class _LogShipper:
    """What Lambda's runtime does with stdout: ships it to the function's log group."""

    def __init__(self, logs: Any, group: str, path: Path) -> None:
        self._logs, self._group, self._path, self._offset = logs, group, path, 0
        self._stream = f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}"
        logs.create_log_stream(logGroupName=group, logStreamName=self._stream)

    def ship(self) -> None:
        with self._path.open("rb") as handle:
            handle.seek(self._offset)
            chunk = handle.read()
        self._offset += len(chunk)
        lines = [line for line in chunk.decode(errors="replace").splitlines() if line.strip()]
        now = int(time.time() * 1000)
        for start in range(0, len(lines), 1000):
            events = [{"timestamp": now, "message": line} for line in lines[start : start + 1000]]
            self._logs.put_log_events(logGroupName=self._group, logStreamName=self._stream, logEvents=events)


def worker_main(config: WorkerConfig, stop: Any, reports: Any) -> None:
    """One execution environment: cold start, then poll and invoke until told to stop."""
    run_dir = Path(config.run_dir)
    log_path = run_dir / f"function-{config.index}.log"
    log = log_path.open("ab", buffering=0)
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    os.environ.update(_environment(config))
    sys.path[:0] = [str(PROJECT_ROOT / "lambda_src"), str(PROJECT_ROOT)]
    if config.cpus:
        os.sched_setaffinity(0, config.cpus)

    import boto3

    from local.iam_guard import IamGuard

    guard = IamGuard(config.spec.role_policies, config.region, run_dir / f"iam-usage-{config.index}.jsonl")
    guard.install_everywhere()
    boto3.setup_default_session(region_name=config.region)

    try:
        started = time.perf_counter()
        module_name, _, function_name = config.handler.partition(":")
        lambda_handler = getattr(
            importlib.import_module(module_name), function_name
        )  # cold start: the model loads here
        cold_start = time.perf_counter() - started
    except Exception as err:
        reports.put({"worker": config.index, "kind": "crashed", "error": repr(err)})
        raise
    spec = config.spec
    sqs = boto3.client("sqs")
    sqs.get_queue_attributes(QueueUrl=spec.queue_url, AttributeNames=["All"])  # the poller's first look
    shipper = _LogShipper(boto3.client("logs"), f"/aws/lambda/{spec.name}", log_path)
    reports.put({"worker": config.index, "kind": "ready", "cold_start": cold_start})
    arn = f"arn:aws:lambda:{config.region}:123456789012:function:{spec.name}"

    while not stop.is_set():
        messages = _receive(sqs, spec)
        if not messages:
            time.sleep(EMPTY_POLL_PAUSE)
            continue
        event = {"Records": [sqs_record(m, spec, config.region) for m in messages]}
        context = LambdaContext(spec.name, spec.memory_mb, arn, str(uuid.uuid4()))
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            response = lambda_handler(event, context)
            failed = {f["itemIdentifier"] for f in response.get("batchItemFailures", [])}
        except Exception as err:  # the whole batch failed: every message comes back
            print(json.dumps({"level": "ERROR", "message": "invocation failed", "error": repr(err)}), flush=True)
            failed = {m["MessageId"] for m in messages}
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            sqs.delete_message_batch(
                QueueUrl=spec.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
                ],
            )
        shipper.ship()
        reports.put(
            {
                "worker": config.index,
                "kind": "batch",
                "size": len(messages),
                "failed": len(failed),
                "seconds": elapsed,  # wall time inside the handler
                "cpu": cpu,  # CPU time of the handler, all threads (inference uses several)
            }
        )


class FunctionRunner:
    def __init__(
        self,
        spec: FunctionSpec,
        endpoint_url: str,
        region: str,
        model_dir: Path,
        run_dir: Path,
        workers: int,
        handler: str = "classifier.handler:lambda_handler",
    ) -> None:
        self.spec, self.endpoint_url, self.region = spec, endpoint_url, region
        self.model_dir, self.run_dir = model_dir, run_dir
        self.workers = max(1, workers)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter, like a new environment
        self._stop = context.Event()
        self.reports: Any = context.Queue()
        cpus = share_cpus(self.workers)
        self._processes = [
            context.Process(
                target=worker_main,
                args=(
                    WorkerConfig(i, endpoint_url, region, spec, str(model_dir), str(run_dir), handler, cpus[i]),
                    self._stop,
                    self.reports,
                ),
                name=f"function-env-{i}",
                daemon=True,
            )
            for i in range(self.workers)
        ]
        self.cold_starts: list[float] = []

    def start(self, timeout: float = 300) -> FunctionRunner:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + timeout
        while len(self.cold_starts) < self.workers:
            report = self.reports.get(timeout=max(1.0, deadline - time.monotonic()))
            if report["kind"] == "crashed":
                self.stop()
                raise RuntimeError(
                    f"execution environment {report['worker']} failed its cold start: {report['error']} "
                    f"(see {self.run_dir}/function-{report['worker']}.log)"
                )
            if report["kind"] == "ready":
                self.cold_starts.append(report["cold_start"])
        return self

    def stop(self) -> None:
        self._stop.set()
        for process in self._processes:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
