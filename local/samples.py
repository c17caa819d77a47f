"""Sample uploads for the demo: real photos from scikit-image, generated pictures, bad files."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Photos that ship inside scikit-image (no download).
SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "camera", "coins", "moon")


@dataclass(frozen=True)
class Sample:
    name: str
    data: bytes
    expect: str  # CLASSIFIED | REJECTED
    note: str


def _jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _field_photo(seed: int, width: int = 1600, height: int = 1200) -> Image.Image:
    """A leafy-looking generated picture: green stripes, a brown blob, noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = (np.sin(xx / (15 + seed) + yy / 40) + 1) * 60
    pixels = np.stack([stripes * 0.5 + 30, stripes + 80, stripes * 0.3 + 20], axis=-1)
    r = int(rng.integers(min(height, width) // 10, min(height, width) // 4))
    cy, cx = int(rng.integers(r, height - r)), int(rng.integers(r, width - r))
    blob = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
    pixels[blob] = (120, 80, 40)
    pixels += rng.normal(0, 10, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")


def samples() -> list[Sample]:
    import skimage.data

    found: list[Sample] = []
    for name in SKIMAGE_PHOTOS:
        try:
            pixels = getattr(skimage.data, name)()
        except Exception:  # noqa: S112 - a photo that needs downloading is skipped
            continue
        image = Image.fromarray(pixels).convert("RGB")
        found.append(Sample(f"{name}.jpg", _jpeg(image), "CLASSIFIED", "scikit-image photo"))
    for seed in range(4):
        found.append(Sample(f"field-{seed}.jpg", _jpeg(_field_photo(seed)), "CLASSIFIED", "generated field photo"))
    rgba = _field_photo(9, 400, 300).convert("RGBA")
    rgba.putalpha(180)
    found.append(Sample("phone-screenshot.png", _png(rgba), "CLASSIFIED", "PNG with alpha"))
    whole = _jpeg(_field_photo(5))
    found += [
        Sample("shopping-list.jpg", b"eggs, maize seed, pheromone traps\n" * 10, "REJECTED", "text named .jpg"),
        Sample("cut-off.jpg", whole[: len(whole) // 3], "REJECTED", "truncated JPEG"),
        Sample("empty.jpg", b"", "REJECTED", "zero bytes"),
    ]
    return found
