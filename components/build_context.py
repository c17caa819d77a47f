"""What goes into the function image, and a tag derived from it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path


def _files(root: Path, relative: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for rel in relative:
        path = root / rel
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found.extend(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        else:
            raise FileNotFoundError(f"{path} is missing from the image build context")
    return sorted(found)


def content_tag(root: Path, relative: Iterable[str], build_args: Mapping[str, str]) -> str:
    """A short digest of the files and build arguments that make the image.

    Same inputs, same tag; any change to code, model or arguments gets a tag of its own. The
    inputs must be what the build context admits (.dockerignore), since pulumi-docker rebuilds
    whenever the context changes, and an immutable repository refuses a second push to a tag.
    """
    digest = hashlib.sha256()
    for key in sorted(build_args):
        digest.update(f"arg:{key}={build_args[key]}\0".encode())
    for path in _files(root, relative):
        digest.update(f"file:{path.relative_to(root).as_posix()}\0".encode())
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return f"sha-{digest.hexdigest()[:24]}"
