"""What a built image must satisfy before `pulumi up`: pure checks over what buildah reports.

Each check raises `CheckFailed` with a message that says what is wrong and how to fix it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Lambda: "The maximum size of a container image ... is 10 GB", uncompressed, all layers.
LAMBDA_MAX_UNCOMPRESSED_BYTES = 10 * 1024**3
# The image manifests Lambda accepts; an index (multi-platform, or attestations) is refused.
ACCEPTED_MANIFESTS = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
)
INDEX_MANIFESTS = (
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
)
OCI_ARCHITECTURES = {"x86_64": "amd64", "arm64": "arm64"}
INIT_BUDGET_SECONDS = 10.0  # Lambda's init phase limit
INIT_WARN_SECONDS = 5.0
GROUPS = ("base", "model", "dependencies", "code")


class CheckFailed(AssertionError):
    """The image would fail at deploy or at its first cold start; the message says why."""


@dataclass(frozen=True)
class Layer:
    size: int  # uncompressed bytes
    created_by: str


def check_architecture(image_architecture: str, function_architecture: str) -> None:
    expected = OCI_ARCHITECTURES[function_architecture]
    if image_architecture != expected:
        raise CheckFailed(
            f"architecture: the image is {image_architecture} but the function runs on {function_architecture} "
            f"({expected}); Lambda would fail with 'exec format error'. Build with --platform linux/{expected}"
        )


def check_manifest(media_type: str) -> None:
    if media_type in INDEX_MANIFESTS:
        raise CheckFailed(
            f"manifest: {media_type} is an image index (several platforms or attestations); Lambda accepts a "
            "single-platform image manifest. Build with --provenance=false --sbom=false for one platform"
        )
    if media_type not in ACCEPTED_MANIFESTS:
        raise CheckFailed(f"manifest: {media_type!r} is not a form Lambda accepts ({', '.join(ACCEPTED_MANIFESTS)})")


def group_of(layer: Layer) -> str:
    """Which part of the image a layer of lambda_src/Dockerfile holds."""
    text = layer.created_by
    if "/opt/model" in text and "COPY" in text:
        return "model"
    if "pip install" in text or "/tmp/requirements" in text:  # noqa: S108 - a path inside the image
        return "dependencies"
    if "classifier" in text and "COPY" in text:
        return "code"
    return "base"


def layer_groups(layers: Sequence[Layer], base_layers: int) -> dict[str, int]:
    """Uncompressed bytes per group; the first `base_layers` layers are the base image's."""
    sizes = dict.fromkeys(GROUPS, 0)
    for index, layer in enumerate(layers):
        sizes["base" if index < base_layers else group_of(layer)] += layer.size
    return sizes


def check_size(groups: dict[str, int], limit: int = LAMBDA_MAX_UNCOMPRESSED_BYTES) -> None:
    total = sum(groups.values())
    if total > limit:
        parts = ", ".join(f"{name} {size / 1e9:.2f} GB" for name, size in groups.items())
        raise CheckFailed(
            f"size: {total / 1e9:.2f} GB uncompressed is over Lambda's {limit / 1e9:.2f} GB limit ({parts}); "
            "use inferenceRuntime litert or modelPrecision dynamic-int8, or a smaller model"
        )


def check_load_time(seconds: float, budget: float = INIT_BUDGET_SECONDS) -> str | None:
    """Fail over the init budget; return a warning over INIT_WARN_SECONDS."""
    if seconds > budget:
        raise CheckFailed(
            f"model load: {seconds:.1f} s inside the image is over Lambda's {budget:.0f} s init budget; the first "
            "cold start would time out. Use inferenceRuntime litert, a smaller model, or SnapStart"
        )
    if seconds > INIT_WARN_SECONDS:
        return f"model load: {seconds:.1f} s inside the image, over {INIT_WARN_SECONDS:.0f} s of the init budget"
    return None


def check_files(present: Sequence[str], required: Sequence[str]) -> None:
    missing = [path for path in required if path not in present]
    if missing:
        raise CheckFailed(f"files: the image lacks {', '.join(missing)}; the function would fail at its cold start")
