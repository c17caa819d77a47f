"""Bring the stack's model into the image build context, as models/.build/.

The Docker build context can only copy local files, and a private s3:// object needs the
deployer's credentials, which must never enter the image or its build arguments. So the program
fetches a remote archive with those credentials just before the build, checks it, and unpacks it
under models/.fetched/. Whatever the source, the chosen model folder is then staged (hard links)
as models/.build/, the only model folder the root .dockerignore admits: the build context holds
exactly what the image tag is computed from, so pulumi-docker rebuilds exactly when the tag
changes and never pushes an existing tag to the immutable repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from components.settings import LOCAL_MODEL_ROOT, ModelSource

Downloader = Callable[[str, Path], str]
"""(url, destination file) -> a version string (ETag/version id or content digest)."""

FETCHED = ".fetched"
BUILD = ".build"


class ModelFetchError(RuntimeError):
    pass


def download(url: str, destination: Path) -> str:
    parsed = urlparse(url)
    if parsed.scheme == "s3":
        import boto3  # only deployers with s3:// models need it at this point

        client = boto3.client("s3")
        key = parsed.path.lstrip("/")
        head = client.head_object(Bucket=parsed.netloc, Key=key)
        client.download_file(parsed.netloc, key, str(destination))
        return str(head.get("VersionId") or head["ETag"]).strip('"')
    with urllib.request.urlopen(url, timeout=120) as response, destination.open("wb") as out:  # noqa: S310 - https only, checked by settings
        shutil.copyfileobj(response, out)
    return ""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _unpack(archive: Path, target: Path) -> None:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.namelist():
                resolved = (target / member).resolve()
                if not resolved.is_relative_to(target.resolve()):
                    raise ModelFetchError(f"model archive member {member!r} escapes the archive")
            bundle.extractall(target)  # noqa: S202 - every member was checked above
        return
    try:
        with tarfile.open(archive) as bundle:
            # The "data" filter refuses absolute paths, links out of the tree and device files.
            bundle.extractall(target, filter="data")
    except tarfile.TarError as err:
        raise ModelFetchError(f"model archive is neither a tar nor a zip file: {err}") from err


def stage_model(source: ModelSource, project_root: Path, downloader: Downloader = download) -> str:
    """Stage the stack's model as models/.build/ and return that path, relative to the project root."""
    model = resolve_model(source, project_root, downloader)
    staged = project_root / LOCAL_MODEL_ROOT / BUILD
    if staged.exists():
        shutil.rmtree(staged)
    shutil.copytree(model, staged, copy_function=_link_or_copy)
    return staged.relative_to(project_root).as_posix()


def _link_or_copy(source: str, target: str) -> None:
    try:
        os.link(source, target)  # instant and no extra disk for a 100 MB model
    except OSError:
        shutil.copy2(source, target)


def _single_folder(unpacked: Path) -> Path:
    """An archive of `model/...` holds the model one level down: use that folder."""
    children = list(unpacked.iterdir())
    if not (unpacked / "metadata.json").exists() and len(children) == 1 and children[0].is_dir():
        return children[0]
    return unpacked


def resolve_model(source: ModelSource, project_root: Path, downloader: Downloader = download) -> Path:
    """The model folder itself: the local one, or a remote archive fetched and unpacked."""
    if source.kind == "local":
        if not (project_root / source.location).exists():
            raise ModelFetchError(
                f"modelSource: {source.location} does not exist; run `make model` for the demo model "
                "or point modelSource at your own"
            )
        return project_root / source.location
    cache = project_root / LOCAL_MODEL_ROOT / FETCHED
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as scratch:
        archive = Path(scratch) / "archive"
        version = downloader(source.location, archive)
        digest = _sha256(archive)
        if source.sha256 is not None and digest != source.sha256:
            raise ModelFetchError(f"modelSha256: {source.location} has sha256 {digest}, expected {source.sha256}")
        name = hashlib.sha256(f"{source.location}\0{version}\0{digest}".encode()).hexdigest()[:16]
        target = cache / name
        if not target.exists():
            unpacked = Path(scratch) / "unpacked"
            unpacked.mkdir()
            _unpack(archive, unpacked)
            unpacked.rename(target)
    return _single_folder(target)
