"""The results API's zip package and the Powertools layer it runs with.

The zip holds our code: the `results_api` package and the table's key layout
(`classifier/keys.py`, with the package's empty `__init__`), never the inference function or the
model; plus `tzdata`, pure data, for a runtime that has no zone database. Powertools (and the
pydantic its OpenAPI validation uses) comes from Powertools' public layer at the very version the
function image pins, found through the SSM parameter Powertools publishes for each release; boto3
is the Lambda runtime's.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pulumi

API_SOURCES = ("lambda_src/results_api", "lambda_src/classifier/__init__.py", "lambda_src/classifier/keys.py")
PYTHON = "python3.12"
LAYER_ARN = re.compile(r"^arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+$")


def api_archive(project_root: Path) -> pulumi.AssetArchive:
    """Each source file as an asset under its import path (caches and stray files left out), and
    the IANA time zone database: the python3.12 runtime's minimal OS image has no
    /usr/share/zoneinfo, and the API works out "today" in the stack's zone."""
    assets: dict[str, pulumi.Asset | pulumi.Archive] = {}
    for source in API_SOURCES:
        path = project_root / source
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" not in file.parts:
                assets[file.relative_to(project_root / "lambda_src").as_posix()] = pulumi.FileAsset(str(file))
    tzdata = _package_dir("tzdata")
    for file in sorted(tzdata.rglob("*")):
        if file.is_file() and "__pycache__" not in file.parts:
            assets[f"tzdata/{file.relative_to(tzdata).as_posix()}"] = pulumi.FileAsset(str(file))
    return pulumi.AssetArchive(assets)


def _package_dir(name: str) -> Path:
    """Where a pure-data package the zip ships is installed (pinned in constraints.txt)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the API package needs {name} installed (it is in requirements.txt)")
    return Path(next(iter(spec.submodule_search_locations)))


def powertools_version(project_root: Path) -> str:
    """The Powertools release the function image pins (lambda_src/requirements.txt)."""
    requirements = (project_root / "lambda_src" / "requirements.txt").read_text()
    found = re.search(r"^aws-lambda-powertools(?:\[[^\]]*\])?==([0-9][0-9.]*)\s*$", requirements, re.MULTILINE)
    if found is None:
        raise ValueError("lambda_src/requirements.txt must pin aws-lambda-powertools==X.Y.Z")
    return found.group(1)


def powertools_layer_parameter(architecture: str, version: str) -> str:
    """The public SSM parameter whose value is that release's layer ARN in the current region."""
    return f"/aws/service/powertools/python/{architecture}/{PYTHON}/{version}"
