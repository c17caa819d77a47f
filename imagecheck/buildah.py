"""buildah and podman as this check uses them: rootless-friendly chroot isolation, vfs storage.

No Docker engine and no registry: the base is a local stand-in (see `stand_in_base`), built once
and cached in buildah's storage under a tag that names its recipe.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from imagecheck.checks import Layer

STORAGE = ("--storage-driver", "vfs")
STAND_IN = "localhost/lambda-python-standin:bookworm-1"
"""Debian bookworm minbase + python3 + pip, LAMBDA_TASK_ROOT=/var/task. The tag's suffix is the
recipe's version: change the recipe, bump it."""
DEBIAN_MIRROR = "http://deb.debian.org/debian"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


class ToolMissing(RuntimeError):
    pass


def run(*args: str, capture: bool = True, input_bytes: bytes | None = None) -> str:
    result = subprocess.run(  # noqa: S603 - fixed tools, our own arguments
        list(args), check=False, capture_output=capture, input=input_bytes
    )
    if result.returncode != 0:
        detail = (result.stderr or b"").decode(errors="replace")[-2000:] if capture else ""
        raise RuntimeError(f"{' '.join(args[:4])} ... exited {result.returncode}\n{detail}")
    return (result.stdout or b"").decode(errors="replace")


def require_tools() -> None:
    missing = [tool for tool in ("buildah", "podman", "debootstrap") if shutil.which(tool) is None]
    if missing:
        raise ToolMissing(f"missing {', '.join(missing)}: apt-get install -y buildah podman debootstrap")


def image_exists(reference: str) -> bool:
    result = subprocess.run(  # noqa: S603
        ["buildah", *STORAGE, "inspect", "--type", "image", reference],  # noqa: S607 - a tool on PATH
        check=False,
        capture_output=True,
    )
    return result.returncode == 0


def stand_in_base() -> str:
    """The stand-in for public.ecr.aws/lambda/python, made once per machine.

    Differs from the real base: Debian's Python 3.11 instead of Amazon Linux's 3.12, no Lambda
    runtime interface client (the check calls the handler directly), no /var/runtime.
    """
    if image_exists(STAND_IN):
        return STAND_IN
    with tempfile.TemporaryDirectory(prefix="standin-") as scratch:
        root = Path(scratch) / "rootfs"
        run(
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-pip,ca-certificates",
            "bookworm",
            str(root),
            DEBIAN_MIRROR,
        )
        # As on the Lambda base: `python` exists and pip installs into the system interpreter.
        (root / "usr/bin/python").symlink_to("python3")
        for marker in root.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        (root / "var/task").mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(  # noqa: S603
            ["tar", "-C", str(root), "-c", "."],  # noqa: S607 - a tool on PATH
            check=True,
            capture_output=True,
        ).stdout
        run(
            "podman",
            *STORAGE,
            "import",
            "--change",
            "ENV LAMBDA_TASK_ROOT=/var/task",
            "--change",
            "WORKDIR /var/task",
            "-",
            STAND_IN,
            input_bytes=archive,
        )
    return STAND_IN


def build(context: Path, dockerfile: Path, tag: str, platform: str, build_args: dict[str, str]) -> None:
    """`lambda_src/Dockerfile` as it is: only BASE_IMAGE (and the stack's args) differ. The host's CA
    bundle is mounted for pip's TLS, a property of this machine, never of the Dockerfile."""
    arguments = [f"--build-arg={key}={value}" for key, value in build_args.items()]
    run(
        "buildah",
        *STORAGE,
        "bud",
        "--isolation",
        "chroot",
        "--layers",
        f"--platform={platform}",
        f"--volume={HOST_CA_BUNDLE}:/etc/ssl/certs/ca-certificates.crt:ro",
        *arguments,
        "-f",
        str(dockerfile),
        "-t",
        tag,
        str(context),
    )


@dataclass(frozen=True)
class ImageFacts:
    architecture: str
    os: str
    manifest_media_type: str
    layers: list[Layer]
    environment: dict[str, str]


def inspect(reference: str) -> ImageFacts:
    data: dict[str, Any] = json.loads(run("buildah", *STORAGE, "inspect", "--type", "image", reference))
    manifest = json.loads(data["Manifest"])
    history = [h for h in data["OCIv1"].get("history", []) if not h.get("empty_layer")]
    sizes = [int(layer["size"]) for layer in manifest["layers"]]
    if len(history) != len(sizes):  # history is informative only; never guess sizes from it
        history = [{"created_by": ""}] * len(sizes)
    environment = dict(item.split("=", 1) for item in data["OCIv1"]["config"].get("Env", []))
    return ImageFacts(
        architecture=data["OCIv1"]["architecture"],
        os=data["OCIv1"]["os"],
        manifest_media_type=manifest.get("mediaType") or data.get("ManifestType", ""),
        layers=[Layer(size, h.get("created_by", "")) for size, h in zip(sizes, history, strict=True)],
        environment=environment,
    )


def layer_count(reference: str) -> int:
    return len(inspect(reference).layers)


class Container:
    """A working container of an image, to run commands in (chroot isolation: host network)."""

    def __init__(self, image: str) -> None:
        self.name = run("buildah", *STORAGE, "from", image).strip().splitlines()[-1]

    def run(self, *command: str, env: dict[str, str] | None = None) -> str:
        flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
        return run("buildah", *STORAGE, "run", "--isolation", "chroot", *flags, self.name, "--", *command)

    def files(self, *paths: str) -> list[str]:
        """Which of `paths` exist in the container."""
        script = "import os, sys; print('\\n'.join(p for p in sys.argv[1:] if os.path.exists(p)))"
        return self.run("python3", "-c", script, *paths).split()

    def commit(self, tag: str, *, architecture: str | None = None) -> str:
        """Save the container as an image (optionally declaring another architecture)."""
        if architecture is not None:
            run("buildah", *STORAGE, "config", f"--arch={architecture}", self.name)
        run("buildah", *STORAGE, "commit", "--quiet", self.name, tag)
        return tag

    def remove(self) -> None:
        subprocess.run(["buildah", *STORAGE, "rm", self.name], check=False, capture_output=True)  # noqa: S603, S607
