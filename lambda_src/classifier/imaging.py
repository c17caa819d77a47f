"""Decode an upload into the model's input: RGB, EXIF orientation applied, resized to the input size.

Everything that makes an upload unusable raises RejectedUpload with a reason; unusual but valid
images (CMYK, palette with transparency, RGBA, LA, 16-bit, 1-bit, rotated, animated) decode.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from classifier.errors import Reason, RejectedUpload

# Pillow warns above MAX_IMAGE_PIXELS and raises above twice that; we treat its warning as an
# error too, so a decompression bomb never gets near the function's memory.
MAX_PIXELS = 89_478_485  # Pillow's default limit (about 0.25 GB of 24-bit pixels)
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def decode(
    data: bytes,
    *,
    size: tuple[int, int],
    allowed_formats: tuple[str, ...],
) -> np.ndarray:
    """Return a (height, width, 3) uint8 RGB array of the requested size."""
    if not data:
        raise RejectedUpload(Reason.EMPTY, "the object has zero bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in allowed_formats:
                    raise RejectedUpload(
                        Reason.UNSUPPORTED_FORMAT,
                        f"{image.format} is not among the allowed formats ({', '.join(allowed_formats)})",
                    )
                return _to_model_input(image, size)
        except RejectedUpload:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
            raise RejectedUpload(Reason.DECOMPRESSION_BOMB, str(err)) from None
        except UnidentifiedImageError:
            raise RejectedUpload(Reason.NOT_AN_IMAGE, "the bytes are not an image Pillow recognises") from None
        except (OSError, SyntaxError, ValueError) as err:
            # Pillow reports a cut-off file as OSError("image file is truncated ...") or
            # ("... broken data stream"); anything else it cannot decode is corrupt.
            text = str(err)
            if "truncated" in text or "broken data stream" in text or "premature end" in text.lower():
                raise RejectedUpload(Reason.TRUNCATED, text) from None
            raise RejectedUpload(Reason.CORRUPT, text or type(err).__name__) from None


def _to_model_input(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    # Animated GIF/WebP/MPO: the first frame is the photo.
    image.seek(0)
    if image.format == "JPEG":
        # Decode at the smallest scale (1/2, 1/4 or 1/8, done inside the JPEG decoder) that still
        # covers the target: a 12 MP camera JPEG decodes at 500x375 instead of 4000x3000, several
        # times faster, and the resize that follows still only shrinks (tests check top-1 holds).
        image.draft("RGB", size)
    image.load()
    image = ImageOps.exif_transpose(image) or image
    rgb = _as_rgb(image)
    if rgb.size != size:
        rgb = rgb.resize(size, Image.Resampling.BILINEAR, reducing_gap=3.0)
    return np.asarray(rgb, dtype=np.uint8)


def _as_rgb(image: Image.Image) -> Image.Image:
    mode = image.mode
    if mode == "RGB":
        return image
    if mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        # Transparent areas become white, not the black of whatever colour they hid.
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        return background.convert("RGB")
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit and float greyscale: scale the real range to 8 bits instead of clipping at 255.
        values = np.asarray(image, dtype=np.float64)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8), "L").convert("RGB")
    return image.convert("RGB")
