"""python -m bench: our LiteRT path (a), our TensorFlow path (b) and the original-style handler (c),
side by side in one run on one machine, on the demo ResNet-50 and the same generated 12 MP JPEGs.

Writes bench/results/latest.json and latest.md and prints the Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS = PROJECT_ROOT / "bench" / "results"
MODEL_DIR = PROJECT_ROOT / "models" / "demo"


OURS = "classifier.handler:lambda_handler"


@dataclass(frozen=True)
class Variant:
    key: str
    title: str
    runtime: str
    precision: str
    handler: str = OURS
    extra_actions: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "ours" if self.handler == OURS else "original"


VARIANTS = (
    Variant("litert", "(a) ours, LiteRT float32", "litert", "float32"),
    Variant("litert-int8", "(a8) ours, LiteRT dynamic-int8", "litert", "dynamic-int8"),
    Variant("tensorflow", "(b) ours, TensorFlow", "tensorflow", "float32"),
    # The original role could Scan and read objects without naming a version; ours needs neither.
    Variant(
        "original",
        "(c) original-style",
        "tensorflow",
        "float32",
        "bench.original_handler:lambda_handler",
        ("dynamodb:Scan", "s3:GetObject"),
    ),
)


def model_dir(variant: Variant) -> Path:
    """The model folder the variant serves, converted as the image build would convert it."""
    from local.cloud import prepare_model

    return prepare_model(MODEL_DIR, variant.runtime, variant.precision)


@dataclass
class Measures:
    values: dict[str, dict[str, float]] = field(default_factory=dict)

    def put(self, metric: str, variant: str, value: float) -> None:
        self.values.setdefault(metric, {})[variant] = value


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# -- inputs ---------------------------------------------------------------------------------------
def make_images(directory: Path, count: int) -> list[Path]:
    """12 MP camera-like JPEGs (4000x3000), generated: the same files for every variant."""
    import io

    from local.samples import _field_photo

    paths = []
    for seed in range(count):
        path = directory / f"photo-{seed:02}.jpg"
        if not path.exists():
            buffer = io.BytesIO()
            _field_photo(seed, 4000, 3000).save(buffer, format="JPEG", quality=90)
            path.write_bytes(buffer.getvalue())
        paths.append(path)
    return paths


# -- in-process model measurements, each in a fresh process ----------------------------------------
COLD_START_PHASES = (
    ("imports", "cold start: importing the handler (Powertools, botocore, numpy, Pillow, runtime) (s)"),
    ("load", "cold start: loading the model (s)"),
    ("first_prediction", "cold start: first decode + prediction (s)"),
)


def probe(variant: Variant, images_dir: Path, repeat: int) -> tuple[float, dict[str, Any], dict[str, Any]]:
    started = time.perf_counter()
    process = subprocess.Popen(  # noqa: S603 - our own module, our own arguments
        [
            sys.executable,
            "-m",
            "bench.probe",
            variant.kind,
            variant.runtime,
            str(model_dir(variant)),
            str(images_dir),
            "--repeat",
            str(repeat),
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert process.stdout is not None
    first = json.loads(process.stdout.readline())
    cold = time.perf_counter() - started
    assert first.pop("first") is True
    warm = json.loads(process.stdout.readline())
    process.wait(timeout=600)
    return cold, first, warm


def model_measures(measures: Measures, images_dir: Path, repeat: int, cold_runs: int) -> None:
    for variant in VARIANTS:
        colds: list[float] = []
        phases: list[dict[str, float]] = []
        warm: dict[str, Any] = {}
        for _ in range(cold_runs):
            cold, phase, warm = probe(variant, images_dir, repeat)
            colds.append(cold)
            phases.append(phase)
        warm_ms = statistics.median(warm["warm"]) * 1000
        log(f"{variant.key}: cold start {statistics.median(colds):.2f}s, warm p50 {warm_ms:.1f} ms")
        measures.put("cold start, fresh process to first prediction (s)", variant.key, statistics.median(colds))
        if "imports" in phases[0]:  # ours: where the cold start goes
            for key, label in COLD_START_PHASES:
                measures.put(label, variant.key, statistics.median(p[key] for p in phases))
            rest = statistics.median(c - sum(p.values()) for c, p in zip(colds, phases, strict=True))
            measures.put("cold start: interpreter start-up (s)", variant.key, rest)
        measures.put(
            "warm per image: decode 12 MP + classify, p50 (ms)", variant.key, statistics.median(warm["warm"]) * 1000
        )
        measures.put(
            "warm per image: decode 12 MP + classify, p95 (ms)", variant.key, percentile(warm["warm"], 0.95) * 1000
        )
        if "inference" in warm:
            measures.put(
                "warm inference alone, batch of 1, p50 (ms)", variant.key, statistics.median(warm["inference"]) * 1000
            )
            measures.put(
                "warm inference per image in a batch of 10 (ms)",
                variant.key,
                warm["inference_batched_per_image"] * 1000,
            )
            measures.put(
                "decode 12 MP JPEG at reduced scale, p50 (ms)", variant.key, statistics.median(warm["decode"]) * 1000
            )


# -- through the local cloud ----------------------------------------------------------------------
def with_actions(actions: tuple[str, ...]) -> Callable[[Any], None]:
    def adjust(deployment: Any) -> None:
        if not actions:
            return
        for policy in deployment.of_type("aws:iam/rolePolicy:RolePolicy"):
            document = json.loads(policy.inputs["policy"])
            for statement in document["Statement"]:
                service = statement["Action"][0].split(":")[0]
                if statement["Sid"] != "TellMissingUploads":
                    statement["Action"] = sorted(
                        {*statement["Action"], *(a for a in actions if a.startswith(service + ":"))}
                    )
            policy.inputs["policy"] = json.dumps(document)

    return adjust


@dataclass
class HandlerTime:
    seconds: float = 0.0  # wall time inside the handler
    cpu: float = 0.0  # CPU time of the handler, all its threads


def wait_batches(cloud: Any, messages: int, timeout: float = 900) -> HandlerTime:
    """Block until the runner has reported handling `messages` messages (successfully); a failed
    message stops the benchmark, since its numbers would not mean what they say. Returns the time
    the handler spent on them, so the rest can be put down to the emulator."""
    done, deadline, spent = 0, time.monotonic() + timeout, HandlerTime()
    while done < messages:
        report = cloud.runner.reports.get(timeout=max(1.0, deadline - time.monotonic()))
        if report["kind"] == "batch":
            if report["failed"]:
                raise RuntimeError(
                    f"the function failed {report['failed']} message(s): see {cloud.run_dir}/function-*.log"
                )
            done += report["size"]
            spent.seconds += report["seconds"]
            spent.cpu += report["cpu"]
    return spent


def preload(region: str, table: str, date: str, start: int, stop: int) -> None:
    """Store FAW predictions `start..stop-1` for `date` straight into the emulator's table (it runs
    in this process, so this skips 50k requests), and the day's FAW counter to match, as both
    designs would have left them."""
    from moto.dynamodb.models import dynamodb_backends

    target = dynamodb_backends["123456789012"][region].get_table(table)
    for i in range(start, stop):
        target.put_item(
            {
                "PredictionDate": {"S": date},
                "ClassPredictionID": {"S": f"FAW#{i:032x}"},
                "ClassName": {"S": "FAW"},
                "Count_ClassName": {"N": str(i + 1)},
                "ObjectKey": {"S": f"uploads/history/{i}.jpg"},
                "ConfidenceScore": {"S": "88%"},
                "Confidence": {"N": "0.88"},
                "Status": {"S": "CLASSIFIED"},
            }
        )
    if stop:
        target.put_item(
            {"PredictionDate": {"S": date}, "ClassPredictionID": {"S": "COUNT#FAW"}, "Count": {"N": str(stop)}}
        )


def recording_measures(measures: Measures, levels: tuple[int, ...], samples: int) -> None:
    """DynamoDB work per image as the table grows: our claim + counter + record transaction
    against the original Scan-then-Put, same emulator, same stored predictions."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from classifier.events import UploadedObject
    from classifier.records import CLASSIFIED, Verdict, build_record, object_digest
    from classifier.store import PredictionStore
    from components.predictions_table import create_table_request
    from local.emulator import transactions_cost_what_they_touch
    from local.server import MotoServer, free_port, local_client

    transactions_cost_what_they_touch()
    server = MotoServer(free_port()).start()
    try:
        region = "eu-west-1"
        dynamodb = local_client("dynamodb", server.endpoint_url, region)

        def fresh_tables() -> None:
            for table in ("ours", "original"):
                if table in dynamodb.list_tables()["TableNames"]:
                    dynamodb.delete_table(TableName=table)
                create_table(table)

        def create_table(table: str) -> None:
            dynamodb.create_table(**create_table_request(table))

        import boto3

        resource = boto3.resource(
            "dynamodb",
            endpoint_url=server.endpoint_url,
            region_name=region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - the emulator's
        )
        os.environ.setdefault("TABLE_NAME", "original")
        os.environ.setdefault("MODEL_DIR", str(MODEL_DIR))
        os.environ.setdefault("AWS_DEFAULT_REGION", region)
        from bench import original_handler

        store = PredictionStore("ours", dynamodb)
        date = original_handler.DATE
        when = datetime.now(ZoneInfo("Africa/Lagos"))
        # Warm up clients, connection and code paths on another day, so the first level measured
        # does not pay for them.
        fresh_tables()
        for i in range(samples):
            obj = UploadedObject("bucket", f"uploads/warm-up/{i}.jpg", "v1", 1000, None, None)
            verdict = Verdict(CLASSIFIED, "FAW", 0.9, {"AAW": 0.05, "ECLW": 0.05, "FAW": 0.9})

            def warm(n: int, obj: UploadedObject = obj, verdict: Verdict = verdict) -> dict[str, Any]:
                return build_record(obj, verdict, when=when, count=n, region=region, model_version="bench")

            store.record(object_digest(obj), "2000-01-01", "FAW", warm)
            original_handler.record(resource.Table("original"), obj.key, "FAW", 0.9)
        for level in levels:
            fresh_tables()  # each level starts from exactly `level` stored predictions
            for table in ("ours", "original"):
                preload(region, table, date, 0, level)
            ours_times, original_times, ours_counts, original_counts = [], [], [], []
            # Ours takes milliseconds: five times the samples steady its median at no cost. The
            # counts compared are those of the first `samples` new images, for both designs.
            for i in range(samples * 5):
                obj = UploadedObject("bucket", f"uploads/level-{level}/{i}.jpg", "v1", 1000, None, None)
                verdict = Verdict(CLASSIFIED, "FAW", 0.9, {"AAW": 0.05, "ECLW": 0.05, "FAW": 0.9})

                def build(n: int, obj: UploadedObject = obj, verdict: Verdict = verdict) -> dict[str, Any]:
                    return build_record(obj, verdict, when=when, count=n, region=region, model_version="bench")

                started = time.perf_counter()
                result = store.record(object_digest(obj), date, "FAW", build)
                ours_times.append(time.perf_counter() - started)
                ours_counts.append(int(result.record["Count_ClassName"]))
                if i >= samples:
                    continue
                started = time.perf_counter()
                original_counts.append(original_handler.record(resource.Table("original"), obj.key, "FAW", 0.9))
                original_times.append(time.perf_counter() - started)
            expected = level + samples
            for key, times, counts in (
                ("ours", ours_times, ours_counts),
                ("original", original_times, original_counts),
            ):
                variants = ("litert", "litert-int8", "tensorflow") if key == "ours" else ("original",)
                for variant in variants:
                    measures.put(
                        f"recording per image with {level:,} predictions stored, p50 (ms)",
                        variant,
                        statistics.median(times) * 1000,
                    )
                    label = (
                        f"Count_ClassName of the last of {samples} new images, {level:,} stored (right: {expected:,})"
                    )
                    measures.put(label, variant, counts[samples - 1])
            ours_ms, original_ms = statistics.median(ours_times) * 1000, statistics.median(original_times) * 1000
            log(f"{level} stored: ours {ours_ms:.1f} ms, count {ours_counts[samples - 1]}")
            log(f"{level} stored: original {original_ms:.1f} ms, count {original_counts[-1]}")
    finally:
        server.stop()


def cloud_measures(measures: Measures, images: list[Path], burst: int, samples: int) -> None:
    from local.cloud import LocalCloud
    from local.server import free_port, local_client

    payloads = [p.read_bytes() for p in images]
    for variant in VARIANTS:
        config = {
            "image-classifier:inferenceRuntime": variant.runtime,
            "image-classifier:modelPrecision": variant.precision,
        }
        cloud = LocalCloud(
            port=free_port(),
            workers=2,
            config=config,
            handler=variant.handler,
            adjust=with_actions(variant.extra_actions),
        )
        cloud.start()
        try:
            summary = cloud.summary()
            s3 = local_client("s3", summary["endpoint_url"], summary["region"])

            def put(index: int, prefix: str, s3: Any = s3, summary: dict[str, Any] = summary) -> None:
                s3.put_object(
                    Bucket=summary["bucket"],
                    Key=f"uploads/{prefix}/{index:04}.jpg",
                    Body=payloads[index % len(payloads)],
                )

            # End to end, one upload at a time: PutObject -> record written.
            put(0, "warmup")
            wait_batches(cloud, 1)
            fetches = []
            for _ in range(samples):  # what the handler's GET of one upload costs the emulator
                started = time.perf_counter()
                s3.get_object(Bucket=summary["bucket"], Key="uploads/warmup/0000.jpg")["Body"].read()
                fetches.append(time.perf_counter() - started)
            measures.put(
                "emulator: GET of one 4 MB upload from this process, p50 (ms)",
                variant.key,
                statistics.median(fetches) * 1000,
            )
            latencies, in_handler = [], []
            for index in range(samples):
                started = time.perf_counter()
                put(index, "e2e")
                in_handler.append(wait_batches(cloud, 1).seconds)
                latencies.append(time.perf_counter() - started)
            measures.put("end to end per 12 MP JPEG, warm, p50 (ms)", variant.key, statistics.median(latencies) * 1000)
            measures.put(
                "end to end: of which inside the handler (fetch, decode, classify, record), p50 (ms)",
                variant.key,
                statistics.median(in_handler) * 1000,
            )

            # A burst: every upload at once, from 8 threads, until all are recorded. The emulator
            # runs in this process, so this process's CPU time is the emulator's (plus the 8
            # uploading threads): set against the handlers' CPU, it says where the 2 cores went.
            started, cpu_started = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda i: put(i, "burst"), range(burst)))
            spent = wait_batches(cloud, burst)
            elapsed, emulator_cpu = time.perf_counter() - started, time.process_time() - cpu_started
            measures.put(f"burst of {burst} uploads, 2 workers (images/s)", variant.key, burst / elapsed)
            measures.put("burst: handler CPU per image, both workers (ms)", variant.key, spent.cpu / burst * 1000)
            measures.put("burst: emulator and uploaders CPU per image (ms)", variant.key, emulator_cpu / burst * 1000)
            measures.put("burst: CPU available per image, 2 cores (ms)", variant.key, 2 * elapsed / burst * 1000)
            e2e_ms = statistics.median(latencies) * 1000
            log(f"{variant.key}: e2e p50 {e2e_ms:.0f} ms, burst {burst / elapsed:.1f} img/s")

        finally:
            cloud.stop()
            cloud.cleanup()


# -- installed size -------------------------------------------------------------------------------
def installed_size(requirements: Path) -> float:
    with tempfile.TemporaryDirectory() as target:
        subprocess.run(  # noqa: S603 - pip on our own requirements file
            [sys.executable, "-m", "pip", "install", "--quiet", "--target", target, "-r", str(requirements)],
            check=True,
            cwd=requirements.parent,
            capture_output=True,
        )
        total = sum(p.stat().st_size for p in Path(target).rglob("*") if p.is_file())
    return total / 1e6


def size_measures(measures: Measures) -> None:
    litert = installed_size(PROJECT_ROOT / "lambda_src" / "requirements.txt")
    tensorflow = installed_size(PROJECT_ROOT / "lambda_src" / "requirements-tensorflow.txt")
    for key, value in (
        ("litert", litert),
        ("litert-int8", litert),
        ("tensorflow", tensorflow),
        ("original", tensorflow),
    ):
        measures.put("runtime dependencies installed (MB)", key, value)
    log(f"installed: litert {litert:.0f} MB, tensorflow {tensorflow:.0f} MB")


# -- report ---------------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


def _ratio(ours: float | None, other: float | None, higher_is_better: bool) -> str:
    """How many times better (a) is than another variant."""
    if not ours or not other:
        return ""
    return f"{(ours / other if higher_is_better else other / ours):.1f}x"


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:,.3g}" if value < 100 else f"{value:,.0f}"


def markdown(measures: Measures, info: dict[str, str]) -> str:
    model = "demo ResNet-50 (untrained weights)"
    lines = [
        f"Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}; model: {model}.",
        "",
        "| metric | (a) ours, LiteRT | (a8) ours, LiteRT int8 | (b) ours, TensorFlow | (c) original-style "
        "| (b)/(a) | (c)/(a) | (b)/(a8) | (c)/(a8) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for metric, row in measures.values.items():
        a, a8, b, c = (row.get(k) for k in ("litert", "litert-int8", "tensorflow", "original"))
        better = "images/s" in metric
        ratios = [_ratio(x, y, better) for x in (a, a8) for y in (b, c)] if "Count_" not in metric else [""] * 4
        cells = " | ".join([_cell(a), _cell(a8), _cell(b), _cell(c), *ratios])
        lines.append(f"| {metric} | {cells} |")
    lines.append("")
    lines.append("Ratios say how many times better (a) or (a8) is: time over time, or throughput over throughput.")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick", action="store_true", help="fewer repetitions, a smaller burst and table (a smoke run)"
    )
    parser.add_argument(
        "--skip-size", action="store_true", help="skip measuring installed dependency sizes (needs PyPI)"
    )
    args = parser.parse_args()
    if not (MODEL_DIR / "model.keras").is_file() or not (MODEL_DIR / "model.tflite").is_file():
        sys.exit("the demo model is missing: run `make model` first")
    sys.path[:0] = [str(PROJECT_ROOT / "lambda_src"), str(PROJECT_ROOT)]
    repeat, cold_runs, burst, levels, samples = (
        (5, 1, 40, (0, 2_000), 3) if args.quick else (30, 3, 500, (0, 10_000, 50_000), 7)
    )
    measures = Measures()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as scratch:
        images = make_images(Path(scratch), 8)
        size = sum(p.stat().st_size for p in images) / len(images) / 1e6
        log(f"{len(images)} generated 12 MP JPEGs, {size:.1f} MB each")
        model_measures(measures, Path(scratch), repeat, cold_runs)
        cloud_measures(measures, images, burst, samples)
        recording_measures(measures, levels, samples)
    if not args.skip_size:
        size_measures(measures)
    info = machine()
    table = markdown(measures, info)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "quick" if args.quick else "latest"
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": info, "measures": measures.values}, indent=2))
    (RESULTS / f"{name}.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
