"""Turn untrusted image bytes into the RGB uint8 arrays engines expect.

Order matters for safety: the pixel count is read from the header and checked
*before* any pixel is decoded, so a 100k x 100k PNG costs nothing.
"""

from __future__ import annotations

import io
import os
import struct
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from recognition.errors import ImageTooLarge, UndecodableImage

# The uploads' limit (~ 8000 x 5000), INGEST["MAX_IMAGE_PIXELS"] unless an operator sets it.
DEFAULT_MAX_PIXELS = 40_000_000

try:  # HEIC/HEIF (iPhone photos) when pillow-heif is installed.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - optional dependency
    HEIF_SUPPORTED = False

_SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}


def load_image(
    source: bytes | str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS
) -> np.ndarray:
    """Decode ``source`` (bytes or a file path) to a contiguous RGB uint8 array.

    EXIF orientation is applied; alpha is composited on white; palette,
    greyscale, 16/32-bit and CMYK images are converted to 8-bit RGB.
    Raises ``ImageTooLarge`` (more than ``max_pixels``) or ``UndecodableImage``.
    """
    if isinstance(source, bytes | bytearray | memoryview):
        if len(source) == 0:
            raise UndecodableImage("the file is empty (0 bytes)")
        fp: io.BytesIO | Path = io.BytesIO(bytes(source))
    else:
        fp = Path(source)
        try:
            if fp.stat().st_size == 0:
                raise UndecodableImage(f"{fp.name}: the file is empty (0 bytes)")
        except FileNotFoundError as exc:
            raise UndecodableImage(f"{fp}: no such file") from exc

    with warnings.catch_warnings():
        # Pillow warns past MAX_IMAGE_PIXELS and raises past twice that; both
        # are ours to report as ImageTooLarge.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(fp) as im:
                width, height = im.size
                if width * height > max_pixels:
                    raise ImageTooLarge(
                        f"image is {width}x{height} = {width * height:,} pixels; "
                        f"the limit is {max_pixels:,}"
                    )
                if width == 0 or height == 0:
                    raise UndecodableImage("image has no pixels (zero width or height)")
                im.load()
                im = _apply_exif_orientation(im)
                array = _to_rgb_array(im)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(f"image rejected as a decompression bomb: {exc}") from exc
        except UnidentifiedImageError as exc:
            raise UndecodableImage("not a recognised image format") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:
            reason = str(exc) or type(exc).__name__
            if "truncated" in reason:
                reason = "the image file is truncated (incomplete upload?)"
            raise UndecodableImage(f"cannot decode image: {reason}") from exc
    return array


def _apply_exif_orientation(im: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(im)
    except Exception:  # broken EXIF must not lose the photo
        return im


def _to_rgb_array(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in _SIXTEEN_BIT_MODES or mode in {"I", "F"}:
        data = np.asarray(im, dtype=np.float64)
        if mode in _SIXTEEN_BIT_MODES or (mode == "I" and data.max(initial=0) > 255):
            data = data / 257.0  # 16-bit range -> 8-bit
        elif mode == "F" and data.max(initial=0) <= 1.0:
            data = data * 255.0
        grey = np.clip(np.rint(data), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P":
        im = im.convert("RGBA") if "transparency" in im.info else im.convert("RGB")
        mode = im.mode
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"}:
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, rgba)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
