"""Sniffing and image validation: every accepted kind, and a bad-input corpus
where each file is refused with its own code and a readable reason."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib

import numpy as np
import pytest
from PIL import ImageFile

from media_ingest.validation import (
    REJECTION_CODES,
    MediaRejected,
    load_validated_image,
    sniff_bytes,
    sniff_media,
    validate_image,
)
from tests.media_ingest.conftest import VIDEO_NAMES, image_bytes, shared_path, video_path

LIMITS = {"max_bytes": 5_000_000, "max_pixels": 40_000_000}


@pytest.mark.parametrize(
    ("fmt", "mime", "extension"),
    [
        ("JPEG", "image/jpeg", ".jpg"),
        ("PNG", "image/png", ".png"),
        ("WEBP", "image/webp", ".webp"),
        ("BMP", "image/bmp", ".bmp"),
        ("GIF", "image/gif", ".gif"),
        ("TIFF", "image/tiff", ".tif"),
        ("HEIF", "image/heic", ".heic"),
    ],
)
def test_every_image_kind_is_sniffed_and_validated(write, fmt, mime, extension):
    # The name lies on purpose: only the bytes count.
    path = write("upload.bin", image_bytes(fmt))
    sniffed = sniff_media(path)
    assert (sniffed.kind, sniffed.mime, sniffed.extension) == ("image", mime, extension)
    info = validate_image(path, **LIMITS)
    assert (info.width, info.height, info.mime) == (64, 48, mime)
    loaded, array = load_validated_image(path, **LIMITS)
    assert loaded == info
    assert array.shape == (48, 64, 3) and array.dtype == np.uint8 and array.flags.c_contiguous


@pytest.mark.parametrize("name", VIDEO_NAMES)
def test_shared_videos_are_sniffed_as_video(name):
    sniffed = sniff_media(video_path(name))
    assert (sniffed.kind, sniffed.mime) == ("video", "video/mp4")


@pytest.mark.parametrize(
    ("head", "mime"),
    [
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x84webm", "video/webm"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01\x42\x82\x88matroska", "video/x-matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "video/x-msvideo"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "image/heic"),
        (b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1heic", "image/heic"),
    ],
)
def test_container_signatures(head, mime):
    sniffed = sniff_bytes(head)
    assert sniffed is not None and sniffed.mime == mime


@pytest.mark.parametrize(
    "head",
    [
        b"BMW is not a bitmap, although it starts with BM",
        b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf",  # AVIF: not accepted
        b"\x00\x00\x00\x18ftypmif1\x00\x00\x00\x00mif1miaf",  # HEIF without HEVC
        b"RIFF\x00\x10\x00\x00WAVEfmt ",
        b"<html><body>hi</body></html>",
        b"%PDF-1.7",
    ],
)
def test_other_signatures_are_not_media(head):
    assert sniff_bytes(head) is None


def _png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def _zip_bytes() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr("payload.txt", "not an image")
    return out.getvalue()


def _pixel_bomb_png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def _pixel_bomb_gif(width: int, height: int) -> bytes:
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0, 0, 0)
    descriptor = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    return header + descriptor + b"\x02\x02\x44\x01\x00\x3b"


def _bad_corpus() -> dict[str, tuple[bytes, str]]:
    jpeg = image_bytes("JPEG", (320, 240), quality=90)
    png = image_bytes("PNG")
    return {
        "zero bytes": (b"", "empty"),
        "truncated JPEG": (jpeg[: len(jpeg) // 2], "truncated"),
        "truncated PNG": (png[: len(png) // 2], "truncated"),
        "pixel bomb PNG": (_pixel_bomb_png(50_000, 50_000), "pixel-bomb"),
        "pixel bomb GIF": (_pixel_bomb_gif(50_000, 50_000), "pixel-bomb"),
        "text renamed .jpg": (
            b"hello, I am plain text pretending to be a photo\n",
            "unsupported-type",
        ),
        "HTML renamed .jpg": (b"<html><script>alert(1)</script></html>", "unsupported-type"),
        "polyglot JPEG+ZIP": (jpeg + _zip_bytes(), "polyglot"),
        "polyglot JPEG+PDF": (jpeg + b"%PDF-1.4\n1 0 obj<<>>endobj\n%%EOF\n", "polyglot"),
        "polyglot JPEG+HTML": (jpeg + b"<html><script>alert(1)</script></html>", "polyglot"),
        "polyglot JPEG+shell": (jpeg + b"#!/bin/sh\nrm -rf /\n", "polyglot"),
        "polyglot PNG+data after IEND": (png + b"anything at all after IEND", "polyglot"),
        "polyglot GIF+ZIP": (image_bytes("GIF") + _zip_bytes(), "polyglot"),
        "polyglot WebP+ZIP": (image_bytes("WEBP") + _zip_bytes(), "polyglot"),
        "polyglot HEIC+script": (image_bytes("HEIF") + b"#!/bin/sh\nrm -rf /\n", "polyglot"),
        "polyglot BMP+HTML": (image_bytes("BMP") + b"<html><script>1</script>", "polyglot"),
        "polyglot TIFF+ZIP": (image_bytes("TIFF") + _zip_bytes(), "polyglot"),
        "PHP in a JPEG comment": (
            jpeg[:2] + b"\xff\xfe\x00\x13<?php system(1);?>" + jpeg[2:],
            "polyglot",
        ),
        "video given as image": (video_path().read_bytes()[:200_000], "unsupported-type"),
        "JPEG over the size limit": (image_bytes("JPEG", (1200, 1200), quality=100), "too-large"),
    }


@pytest.mark.parametrize("check", [validate_image, load_validated_image])
@pytest.mark.parametrize("case", list(_bad_corpus()))
def test_bad_images_are_refused_with_a_code_and_a_reason(write, case, check):
    data, code = _bad_corpus()[case]
    path = write("photo.jpg", data)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    with pytest.raises(MediaRejected) as caught:
        check(path, max_bytes=1_000_000, max_pixels=40_000_000)
    assert caught.value.code == code, caught.value.reason
    assert caught.value.code in REJECTION_CODES
    reason = caught.value.reason
    assert reason and reason[0].isupper() and reason.endswith((".", ")")) and len(reason) < 300


def test_header_pixel_limit_is_checked_before_decoding(write):
    path = write("big.png", image_bytes("PNG", (300, 200)))
    with pytest.raises(MediaRejected) as caught:
        validate_image(path, max_bytes=1_000_000, max_pixels=300 * 200 - 1)
    assert caught.value.code == "pixel-bomb"
    assert "300x200" in caught.value.reason


def test_pixel_bomb_reason_names_the_claimed_size(write):
    with pytest.raises(MediaRejected) as caught:
        validate_image(write("bomb.png", _pixel_bomb_png(50_000, 50_000)), **LIMITS)
    assert "2,500,000,000 pixels" in caught.value.reason


def test_padding_after_the_end_marker_is_tolerated(write):
    jpeg = image_bytes("JPEG") + b"\x00" * 64
    assert validate_image(write("padded.jpg", jpeg), **LIMITS).mime == "image/jpeg"


def test_progressive_jpeg_with_exif_thumbnail_is_accepted(write):
    # An EXIF thumbnail is a whole JPEG (with its own EOI) inside APP1.
    from PIL import Image

    thumbnail = image_bytes("JPEG", (16, 12))
    exif = Image.Exif()
    data = image_bytes("JPEG", (200, 150), progressive=True, exif=exif.tobytes())
    app1 = b"Exif\x00\x00" + b"\x00" * 8 + thumbnail
    data = data[:2] + b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1 + data[2:]
    assert validate_image(write("camera.jpg", data), **LIMITS).width == 200


def test_real_photos_are_accepted():
    """No false polyglot/truncation alarms on real camera and web photos
    (all 1,601 shared images pass; the test walks three folders to stay quick)."""
    folders = [shared_path("data", "faces", name) for name in ("groups", "nofaces", "edge_cases")]
    paths = [p for folder in folders for p in sorted(folder.iterdir()) if p.is_file()]
    paths = [p for p in paths if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".gif", ".webp"}]
    assert len(paths) > 50
    for path in paths:
        validate_image(path, max_bytes=50_000_000, max_pixels=100_000_000)


def test_media_rejected_survives_pickling():
    import pickle

    rejected = MediaRejected("The file is empty (0 bytes).", "empty")
    copy = pickle.loads(pickle.dumps(rejected))  # noqa: S301 - our own bytes
    assert (copy.reason, copy.code, str(copy)) == (
        "The file is empty (0 bytes).",
        "empty",
        copy.reason,
    )
