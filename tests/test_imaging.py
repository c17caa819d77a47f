"""Decoding uploads: unusual but valid images become model input; bad ones get a reason."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.errors import RejectedUpload
from classifier.imaging import decode
from tests.images import bad_uploads, encode, exif_rotated_jpeg, jpeg, photo, unusual_images

ALLOWED = ("JPEG", "PNG", "GIF", "WEBP", "BMP", "TIFF", "MPO")
SIZE = (224, 224)


@pytest.mark.parametrize(("name", "data"), sorted(unusual_images().items()))
def test_unusual_but_valid_images_decode_to_224x224_rgb(name: str, data: bytes) -> None:
    pixels = decode(data, size=SIZE, allowed_formats=ALLOWED)

    assert pixels.shape == (224, 224, 3), name
    assert pixels.dtype == np.uint8


@pytest.mark.parametrize(("name", "case"), sorted(bad_uploads().items()))
def test_bad_uploads_are_rejected_with_their_reason(name: str, case: tuple[bytes, str]) -> None:
    data, reason = case

    with pytest.raises(RejectedUpload) as caught:
        decode(data, size=SIZE, allowed_formats=ALLOWED)

    assert caught.value.reason.value == reason, caught.value.detail


def test_exif_orientation_is_applied_before_resizing() -> None:
    # Stored: red left, blue right, with "rotate 90 clockwise" -> displayed red on top.
    pixels = decode(exif_rotated_jpeg(), size=SIZE, allowed_formats=ALLOWED).astype(int)

    top, bottom = pixels[:50].mean(axis=(0, 1)), pixels[-50:].mean(axis=(0, 1))
    assert top[0] > 200 and top[2] < 60, f"top should be red, got {top}"
    assert bottom[2] > 200 and bottom[0] < 60, f"bottom should be blue, got {bottom}"


def test_transparency_becomes_white_not_black() -> None:
    transparent = photo(64, 64).convert("RGBA")
    transparent.putalpha(0)

    pixels = decode(encode(transparent, "PNG"), size=SIZE, allowed_formats=ALLOWED)

    assert pixels.min() >= 250


def test_reduced_scale_jpeg_decoding_keeps_the_picture() -> None:
    """Draft decoding of a 12 MP JPEG must match a full decode closely (the model sees the same)."""
    from io import BytesIO

    from PIL import Image

    data = jpeg(4000, 3000, seed=3)
    fast = decode(data, size=SIZE, allowed_formats=ALLOWED).astype(float)
    with Image.open(BytesIO(data)) as full:
        reference = np.asarray(full.convert("RGB").resize(SIZE, Image.Resampling.BILINEAR, reducing_gap=3.0)).astype(
            float
        )

    assert np.abs(fast - reference).mean() < 4.0


def test_a_format_outside_the_allowlist_is_rejected_even_if_valid() -> None:
    with pytest.raises(RejectedUpload) as caught:
        decode(encode(photo(), "PNG"), size=SIZE, allowed_formats=("JPEG",))

    assert caught.value.reason.value == "unsupported-format"
    assert "PNG is not among the allowed formats (JPEG)" in caught.value.detail
