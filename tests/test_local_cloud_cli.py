"""The local cloud as users drive it: config changes the stack, `python -m local up` serves and stops."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

from classifier.events import UploadedObject
from classifier.records import object_digest
from local.program import PROJECT_ROOT
from local.results import Results
from local.server import PortInUseError, ensure_port_free, local_client
from tests.images import jpeg
from tests.test_local_cloud import client, e2e_model, free_port, start_cloud, upload, wait_for  # noqa: F401

pytestmark = [pytest.mark.enable_socket, pytest.mark.slow]


def test_the_local_stack_follows_the_program(e2e_model: str) -> None:
    """Change the upload prefix in config: the rule and the function's environment follow."""
    other = start_cloud(e2e_model, **{"image-classifier:uploadPrefix": "incoming/"})
    try:
        summary = other.summary()
        results = Results(client(other, "dynamodb"), summary["table"])
        inside = upload(other, "incoming/a.jpg", jpeg(seed=1))
        outside = upload(other, "uploads/a.jpg", jpeg(seed=2))

        wait_for(results, [inside])
        time.sleep(1)

        assert summary["upload_prefix"] == "incoming/"
        assert results.claim(object_digest(outside)) is None
    finally:
        other.stop()
        other.cleanup()


def test_a_taken_port_is_refused_clearly() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} on 127.0.0.1 is already in use"):
            ensure_port_free(port)


def test_local_up_prints_one_json_line_serves_and_stops_on_sigterm(e2e_model: str) -> None:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "local",
            "up",
            "--port",
            str(port),
            "--workers",
            "1",
            "--config",
            f"modelSource={e2e_model}",
        ],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        info = json.loads(line)
        assert set(info) == {
            "endpoint_url",
            "api_url",
            "region",
            "bucket",
            "upload_prefix",
            "table",
            "queue_url",
            "dlq_url",
        }
        assert info["endpoint_url"] == f"http://127.0.0.1:{port}"
        counts = requests.get(f"{info['api_url']}/counts", timeout=30)
        assert counts.status_code == 200 and counts.json()["total"] == 0  # `up` serves the API too
        s3 = local_client("s3", info["endpoint_url"], info["region"])
        assert s3.list_objects_v2(Bucket=info["bucket"]).get("KeyCount") == 0
        version = s3.put_object(Bucket=info["bucket"], Key="uploads/cli.jpg", Body=jpeg(seed=3))["VersionId"]
        dynamodb = local_client("dynamodb", info["endpoint_url"], info["region"])
        claim = wait_for(
            Results(dynamodb, info["table"]),
            [UploadedObject(info["bucket"], "uploads/cli.jpg", version, None, None, None)],
        )
        date = claim["uploads/cli.jpg"]["RecordDate"]

        shown = subprocess.run(
            [sys.executable, "-m", "local", "results", "--date", date, "--json"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )

        answer = json.loads(shown.stdout)
        assert answer["date"] == date
        assert [p["ObjectKey"] for p in answer["predictions"]] == ["uploads/cli.jpg"]
        assert sum(answer["counts"].values()) == 1
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert not (PROJECT_ROOT / ".local-cloud.json").exists(), "a stopped cloud leaves no state behind"


def test_the_demo_runs_end_to_end_and_reports_nothing_lost(e2e_model: str) -> None:
    demo = subprocess.run(
        [
            sys.executable,
            "-m",
            "local",
            "demo",
            "--port",
            str(free_port()),
            "--workers",
            "2",
            "-c",
            f"modelSource={e2e_model}",
        ],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )

    assert demo.returncode == 0, demo.stderr[-3000:]
    assert "every upload was recorded exactly once; nothing lost" in demo.stderr
    assert "the run used 10 of the role's 10 granted actions" in demo.stderr
    for expected in ("chelsea.jpg", "CLASSIFIED", "not-an-image", "truncated-image", "empty-object", "object-missing"):
        assert expected in demo.stdout, expected
