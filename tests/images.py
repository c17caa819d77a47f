"""Images generated in tests: valid oddities and every kind of bad upload."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def photo(width: int = 640, height: int = 480, seed: int = 0) -> Image.Image:
    """A structured RGB picture: gradients plus noise, so JPEG has something to chew on."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    pixels = np.stack([xx * 255 // max(width - 1, 1), yy * 255 // max(height - 1, 1), (xx + yy) % 256], axis=-1)
    pixels = np.clip(pixels + rng.normal(0, 12, pixels.shape), 0, 255).astype(np.uint8)
    return Image.fromarray(pixels, "RGB")


def jpeg(width: int = 640, height: int = 480, seed: int = 0, quality: int = 90) -> bytes:
    return encode(photo(width, height, seed), "JPEG", quality=quality)


def split_colours(width: int = 300, height: int = 200) -> Image.Image:
    """Left half red, right half blue: shows which way an image was turned."""
    pixels = np.zeros((height, width, 3), dtype=np.uint8)
    pixels[:, : width // 2] = (255, 0, 0)
    pixels[:, width // 2 :] = (0, 0, 255)
    return Image.fromarray(pixels, "RGB")


def exif_rotated_jpeg() -> bytes:
    """Stored sideways with EXIF Orientation 6 (display rotated 90 degrees clockwise)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(split_colours(), "JPEG", quality=95, exif=exif.tobytes())


def unusual_images() -> dict[str, bytes]:
    """Valid uploads that must be classified."""
    rgba = photo(200, 150).convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize((200, 150)))
    palette = photo(120, 90).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    la = photo(100, 100).convert("LA")
    sixteen = Image.fromarray((np.arange(256 * 256, dtype=np.uint32).reshape(256, 256) % 65536).astype(np.uint16))
    frames = [photo(64, 64, seed=i) for i in range(3)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return {
        "jpeg": jpeg(),
        "cmyk-jpeg": encode(photo().convert("CMYK"), "JPEG"),
        "png-rgba": encode(rgba, "PNG"),
        "png-palette-transparency": encode(palette, "PNG"),
        "png-la": encode(la, "PNG"),
        "png-16-bit": encode(sixteen, "PNG"),
        "png-1-bit": encode(photo().convert("1"), "PNG"),
        "exif-rotated": exif_rotated_jpeg(),
        "animated-gif": gif.getvalue(),
        "tiny": encode(photo(1, 1), "PNG"),
        "very-wide": encode(photo(6000, 8), "JPEG"),
        "webp": encode(photo(), "WEBP"),
        "bmp": encode(photo(50, 40), "BMP"),
        "tiff": encode(photo(50, 40), "TIFF"),
        "12mp-jpeg": jpeg(4000, 3000),
    }


def decompression_bomb_png(side: int = 20_000) -> bytes:
    """A tiny PNG declaring side x side 1-bit pixels: kilobytes on disk, 400 Mpx when decoded."""
    row = b"\x00" + b"\x00" * (side // 8)
    raw = zlib.compress(row * side, 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, expected rejection reason)."""
    whole = jpeg(800, 600)
    return {
        "zero-bytes": (b"", "empty-object"),
        "text-file": (b"this is a shopping list, not a moth\n" * 20, "not-an-image"),
        "truncated-jpeg": (whole[: len(whole) // 2], "truncated-image"),
        "decompression-bomb": (decompression_bomb_png(), "decompression-bomb"),
        "ico-not-allowed": (encode(photo(32, 32), "ICO"), "unsupported-format"),
    }
