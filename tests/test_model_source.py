"""Model staging (remote archives into the build context) and the image's content tag."""

from __future__ import annotations

import hashlib
import io
import tarfile
import zipfile
from pathlib import Path

import pytest

from components.build_context import content_tag
from components.model_fetch import ModelFetchError, stage_model
from components.settings import ModelSource


def tar_bytes(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as bundle:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            bundle.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def serving(payload: bytes, version: str = "v1"):
    calls: list[str] = []

    def downloader(url: str, destination: Path) -> str:
        calls.append(url)
        destination.write_bytes(payload)
        return version

    return downloader, calls


def test_remote_archive_is_checked_unpacked_under_models_and_staged_for_the_build(tmp_path: Path) -> None:
    payload = tar_bytes({"model/model.keras": b"weights", "model/metadata.json": b"{}"})
    source = ModelSource("https", "https://example.com/m.tar.gz", hashlib.sha256(payload).hexdigest())
    downloader, calls = serving(payload)

    first = stage_model(source, tmp_path, downloader)
    second = stage_model(source, tmp_path, downloader)

    assert first == second == "models/.build"
    assert (tmp_path / first / "model.keras").read_bytes() == b"weights", "a single top-level folder is the model"
    assert len(list((tmp_path / "models" / ".fetched").iterdir())) == 1, "unpacked once, reused"
    assert len(calls) == 2, "the source is asked each time, so a changed object is noticed"


def test_staging_replaces_the_previous_model_entirely(tmp_path: Path) -> None:
    for name, files in (("first", {"a.bin": b"1", "metadata.json": b"{}"}), ("second", {"metadata.json": b"{}"})):
        folder = tmp_path / "models" / name
        folder.mkdir(parents=True)
        for file, data in files.items():
            (folder / file).write_bytes(data)

    stage_model(ModelSource("local", "models/first"), tmp_path)
    staged = stage_model(ModelSource("local", "models/second"), tmp_path)

    assert sorted(p.name for p in (tmp_path / staged).iterdir()) == ["metadata.json"]
    assert (tmp_path / "models" / "first" / "a.bin").read_bytes() == b"1", "the source folder is untouched"


def test_a_changed_s3_object_version_gets_a_new_folder(tmp_path: Path) -> None:
    payload = tar_bytes({"m.keras": b"1"})
    source = ModelSource("s3", "s3://models/m.tar.gz")

    stage_model(source, tmp_path, serving(payload, "v1")[0])
    staged = stage_model(source, tmp_path, serving(tar_bytes({"m.keras": b"2"}), "v2")[0])

    assert len(list((tmp_path / "models" / ".fetched").iterdir())) == 2
    assert (tmp_path / staged / "m.keras").read_bytes() == b"2"


def test_wrong_checksum_is_refused_and_nothing_is_kept(tmp_path: Path) -> None:
    source = ModelSource("https", "https://example.com/m.tar.gz", "0" * 64)

    with pytest.raises(ModelFetchError, match=r"modelSha256: https://example\.com/m\.tar\.gz has sha256"):
        stage_model(source, tmp_path, serving(tar_bytes({"m": b"x"}))[0])
    assert list((tmp_path / "models" / ".fetched").iterdir()) == []


def test_archives_that_escape_their_folder_are_refused(tmp_path: Path) -> None:
    evil_tar = tar_bytes({"../../etc/evil": b"x"})
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as bundle:
        bundle.writestr("../evil", b"x")

    for payload in (evil_tar, zipped.getvalue()):
        with pytest.raises((ModelFetchError, tarfile.TarError)):
            stage_model(ModelSource("s3", "s3://b/m.zip"), tmp_path, serving(payload)[0])
    assert not (tmp_path.parent / "evil").exists()


def test_a_missing_local_model_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(ModelFetchError, match="run `make model`"):
        stage_model(ModelSource("local", "models/demo"), tmp_path)


def test_content_tag_changes_with_code_model_or_arguments_only(tmp_path: Path) -> None:
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "handler.py").write_text("a = 1\n")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "w.bin").write_bytes(b"\x00" * 10)
    paths = ("code", "model")

    base = content_tag(tmp_path, paths, {"RUNTIME": "litert"})
    again = content_tag(tmp_path, paths, {"RUNTIME": "litert"})
    other_args = content_tag(tmp_path, paths, {"RUNTIME": "tensorflow"})
    (tmp_path / "model" / "w.bin").write_bytes(b"\x01" * 10)
    other_model = content_tag(tmp_path, paths, {"RUNTIME": "litert"})

    assert base == again
    assert len({base, other_args, other_model}) == 3
    with pytest.raises(FileNotFoundError, match="missing from the image build context"):
        content_tag(tmp_path, ("nowhere",), {})
