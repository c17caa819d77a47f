"""The image check against real images: one built with buildah, then broken in each way that makes a
container-Lambda deploy fail. Needs buildah, podman and debootstrap: `make image-check` runs it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from imagecheck import buildah
from imagecheck.__main__ import check_image, check_inside, check_runtime
from imagecheck.checks import CheckFailed

pytestmark = [pytest.mark.image, pytest.mark.enable_socket]
CLASSES = "AAW,ECLW,FAW"


@pytest.fixture(scope="module")
def built() -> Iterator[str]:
    """The litert image for the dev stack, built and fully checked once (end to end included)."""
    buildah.require_tools()
    report = check_runtime("litert", "dev", {})
    assert report["recorded"] == "CLASSIFIED"
    yield "localhost/image-classifier-check:litert"


def broken_copy(image: str, tag: str, *command: str, architecture: str | None = None) -> str:
    container = buildah.Container(image)
    try:
        if command:
            container.run(*command)
        return container.commit(tag, architecture=architecture)
    finally:
        container.remove()


def test_the_built_image_passes(built: str) -> None:
    facts = check_image(built, "x86_64")

    assert facts["architecture"] == "amd64"
    assert facts["groups"]["model"] > 0 and facts["groups"]["dependencies"] > 0


def test_an_image_for_another_architecture_fails(built: str) -> None:
    arm = broken_copy(built, "localhost/image-classifier-check:wrong-arch", architecture="arm64")

    with pytest.raises(CheckFailed, match="exec format error"):
        check_image(arm, "x86_64")


def test_a_file_missing_from_the_image_fails(built: str) -> None:
    missing = broken_copy(built, "localhost/image-classifier-check:no-model", "rm", "/opt/model/model.tflite")
    container = buildah.Container(missing)
    try:
        with pytest.raises(CheckFailed, match=r"lacks /opt/model/model\.tflite"):
            check_inside(container, "litert", CLASSES)
    finally:
        container.remove()


def test_a_model_that_does_not_load_fails(built: str) -> None:
    corrupt = broken_copy(
        built,
        "localhost/image-classifier-check:bad-model",
        "python3",
        "-c",
        "open('/opt/model/model.tflite', 'wb').write(b'not a flatbuffer')",
    )
    container = buildah.Container(corrupt)
    try:
        with pytest.raises(CheckFailed, match="does not load inside the image"):
            check_inside(container, "litert", CLASSES)
    finally:
        container.remove()


def test_an_oversized_image_fails(built: str) -> None:
    # A 10 GiB layer is too slow to write here: the same image against a limit below its size.
    with pytest.raises(CheckFailed, match="over Lambda's"):
        check_image(built, "x86_64", size_limit=100 * 1024**2)
