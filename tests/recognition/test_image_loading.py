import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from recognition.errors import ImageTooLarge, RecognitionError, UndecodableImage
from recognition.imaging import HEIF_SUPPORTED, load_image


def encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def gradient(w=40, h=30) -> np.ndarray:
    x = np.linspace(0, 255, w, dtype=np.uint8)
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = x
    rgb[..., 1] = 255 - x
    rgb[..., 2] = 128
    return rgb


def test_rgb_png_roundtrip_is_exact_and_contiguous():
    rgb = gradient()
    out = load_image(encode(Image.fromarray(rgb), "PNG"), max_pixels=10_000)
    assert out.dtype == np.uint8 and out.shape == (30, 40, 3)
    assert out.flags.c_contiguous
    assert np.array_equal(out, rgb)


def test_path_input(tmp_path):
    path = tmp_path / "x.jpg"
    Image.fromarray(gradient()).save(path)
    assert load_image(path).shape == (30, 40, 3)
    assert load_image(str(path)).shape == (30, 40, 3)


def test_rgba_is_composited_on_white():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[:, :5, 3] = 255  # left half opaque red, right half transparent
    out = load_image(encode(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert out.shape == (10, 10, 3)
    assert tuple(out[0, 0]) == (200, 0, 0)
    assert tuple(out[0, 9]) == (255, 255, 255)


def test_shared_32bit_rgba_png_edge_case(shared):
    out = load_image(shared("data", "faces", "edge_cases", "Barack_Obama__facerec_32bit.png"))
    assert out.ndim == 3 and out.shape[2] == 3 and out.dtype == np.uint8


def test_greyscale_and_palette_and_cmyk():
    grey = Image.fromarray(np.full((8, 8), 77, np.uint8), "L")
    assert tuple(load_image(encode(grey, "PNG"))[0, 0]) == (77, 77, 77)
    pal = Image.fromarray(gradient()).convert("P")
    assert load_image(encode(pal, "PNG")).shape == (30, 40, 3)
    cmyk = Image.fromarray(gradient()).convert("CMYK")
    out = load_image(encode(cmyk, "JPEG"))
    assert out.shape == (30, 40, 3)


def test_sixteen_bit_greyscale_is_scaled_to_eight_bit():
    values = np.array([[0, 65535], [32896, 257]], dtype=np.uint16)
    im = Image.fromarray(values)  # mode I;16
    assert im.mode.startswith("I;16")
    out = load_image(encode(im, "PNG"))
    assert out[:, :, 0].tolist() == [[0, 255], [128, 1]]
    assert np.array_equal(out[..., 0], out[..., 2])


def test_exif_orientation_is_applied():
    rgb = np.zeros((10, 20, 3), np.uint8)  # wide, marker in the top-left corner
    rgb[:3, :3] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    data = encode(Image.fromarray(rgb), "JPEG", exif=exif.tobytes(), quality=100)
    out = load_image(data)
    assert out.shape == (20, 10, 3)  # displayed upright: tall
    assert out[:3, -3:].mean() > 200  # top-left marker moved to the top-right


@pytest.mark.parametrize(
    "payload,reason",
    [
        (b"", "empty"),
        (b"this is not an image at all", "not a recognised image format"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "cannot decode|not a recognised"),
    ],
)
def test_garbage_is_undecodable(payload, reason):
    with pytest.raises(UndecodableImage, match=reason):
        load_image(payload)


def test_truncated_jpeg_is_undecodable():
    rng = np.random.default_rng(0)
    data = encode(Image.fromarray(rng.integers(0, 255, (200, 200, 3), np.uint8)), "JPEG")
    with pytest.raises(UndecodableImage, match="truncated"):
        load_image(data[: len(data) // 2])


def test_zero_byte_file_and_missing_file(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(UndecodableImage, match="empty"):
        load_image(empty)
    with pytest.raises(UndecodableImage, match="no such file"):
        load_image(tmp_path / "missing.jpg")


def test_oversized_is_rejected_from_the_header():
    with pytest.raises(ImageTooLarge, match="limit"):
        load_image(encode(Image.fromarray(gradient()), "PNG"), max_pixels=1000)


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (a decompression bomb)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 10))
        + chunk(b"IEND", b"")
    )


def test_decompression_bomb_header_is_too_large_without_decoding():
    bomb = _png_claiming(100_000, 100_000)
    assert len(bomb) < 200
    with pytest.raises(ImageTooLarge):
        load_image(bomb)  # default limit
    # Pillow's own guard (MAX_IMAGE_PIXELS) also maps to ImageTooLarge
    with pytest.raises(ImageTooLarge):
        load_image(bomb, max_pixels=10**12)


def test_errors_share_one_family():
    assert issubclass(ImageTooLarge, RecognitionError)
    assert issubclass(UndecodableImage, RecognitionError)


def test_heic_roundtrip_when_supported():
    # pillow-heif is pinned in requirements/engines.txt, so this must hold here.
    assert HEIF_SUPPORTED, "pillow-heif not importable: HEIC uploads would be rejected"
    data = encode(Image.fromarray(gradient(64, 48)), "HEIF")
    assert load_image(data).shape == (48, 64, 3)
