"""Shared test helpers. The network is blocked for every test (pytest-socket, see pyproject)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

EVENTS = Path(__file__).parent / "events"

# Powertools reads these once, when the handler module is imported.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "image-classifier")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "ImageClassifierTests")


def load_event(name: str, **overrides: Any) -> dict[str, Any]:
    """A fixture event from tests/events, with detail.bucket / detail.object fields replaced."""
    event = json.loads((EVENTS / f"{name}.json").read_text())
    event = copy.deepcopy(event)
    detail = event["detail"]
    if "bucket" in overrides:
        detail["bucket"]["name"] = overrides.pop("bucket")
        event["resources"] = [f"arn:aws:s3:::{detail['bucket']['name']}"]
    for key, value in overrides.items():
        detail["object"][key.replace("_", "-")] = value
    return event


@pytest.fixture
def event_loader():
    return load_event


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials so boto3 never looks for real ones."""
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }.items():
        monkeypatch.setenv(key, value)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real (tiny) Keras model with the original contract, converted to LiteRT, built once."""
    from modelkit.build import build_model
    from modelkit.convert import convert

    directory = tmp_path_factory.mktemp("tiny-model")
    build_model("tiny", directory, seed=11)
    convert(directory, directory)
    return directory


@pytest.fixture(scope="session")
def litert_classifier(tiny_model_dir: Path):
    from classifier.model import load_classifier

    return load_classifier(tiny_model_dir, "litert", ("AAW", "ECLW", "FAW"))


@pytest.fixture(scope="session")
def tensorflow_classifier(tiny_model_dir: Path):
    from classifier.model import load_classifier

    return load_classifier(tiny_model_dir, "tensorflow", ("AAW", "ECLW", "FAW"))


@pytest.fixture
def world(aws_credentials: None, litert_classifier):
    from moto import mock_aws

    from local.emulator import serialize_in_process_requests
    from tests.function_harness import World

    serialize_in_process_requests()
    with mock_aws():
        yield World(classifier=litert_classifier)
