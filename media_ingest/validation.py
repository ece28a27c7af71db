"""Decide from the real bytes what an uploaded file is, and refuse bad ones.

Nothing here trusts a file name or a client-sent content type. Order matters:
cheap checks first (size, magic number, header pixel count), then the file's
structure walked to its end marker (truncation, hidden payloads). Nothing here
decodes pixels: the worker decodes each photo once, and a file whose pixels
turn out to be damaged fails there with a reason. So a pixel bomb or a 4 GB
upload costs nothing, and an ordinary upload costs no decode on the web side.

Every refusal is a :class:`MediaRejected` whose ``reason`` is a sentence a
user can read and whose ``code`` is a stable slug for the API and the
database. Plain Python: importable without Django settings.
"""

from __future__ import annotations

import mmap
import os
import re
import struct
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from tenants.errors import ServiceError

try:  # HEIC/HEIF (iPhone photos); recognition.imaging registers it too.
    from pillow_heif import register_heif_opener

    register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - optional dependency
    HEIF_SUPPORTED = False

# Every code MediaRejected may carry (the API and the database store these).
REJECTION_CODES = (
    "empty",
    "too-large",
    "quota-exceeded",
    "unsupported-type",
    "pixel-bomb",
    "truncated",
    "undecodable",
    "polyglot",
    "video-undecodable",
    "video-unsupported-codec",
    "video-timeout",
    "video-crashed",
    "video-too-long",
    "archive-unsafe-path",
    "archive-symlink",
    "archive-nested",
    "archive-too-many-entries",
    "archive-too-large",
    "archive-ratio",
    "archive-encrypted",
    "archive-corrupt",
)

SNIFF_BYTES = 4096  # enough for every signature below (EBML DocType included)


# Refusals about size rather than content: 413, so that clients can tell them apart.
_SIZE_CODES = frozenset({"too-large", "quota-exceeded"})


class MediaRejected(ServiceError):
    """A file (or archive member) that Facet refuses to ingest.

    reason: one sentence for the user ("the image file is truncated ...").
    code: a short stable slug from REJECTION_CODES.
    """

    def __init__(self, reason: str, code: str):
        super().__init__(reason, code, http_status=413 if code in _SIZE_CODES else 400)
        self.reason = reason

    def __reduce__(self):  # picklable across processes (task queues, result backends)
        return (type(self), (self.reason, self.code))

    def __repr__(self) -> str:
        return f"MediaRejected(code={self.code!r}, reason={self.reason!r})"


@dataclass(frozen=True)
class SniffedMedia:
    kind: str  # "image" | "video"
    mime: str
    extension: str  # canonical, with the dot: ".jpg"


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mime: str


JPEG = SniffedMedia("image", "image/jpeg", ".jpg")
PNG = SniffedMedia("image", "image/png", ".png")
GIF = SniffedMedia("image", "image/gif", ".gif")
WEBP = SniffedMedia("image", "image/webp", ".webp")
BMP = SniffedMedia("image", "image/bmp", ".bmp")
TIFF = SniffedMedia("image", "image/tiff", ".tif")
HEIC = SniffedMedia("image", "image/heic", ".heic")
MP4 = SniffedMedia("video", "video/mp4", ".mp4")
MOV = SniffedMedia("video", "video/quicktime", ".mov")
MKV = SniffedMedia("video", "video/x-matroska", ".mkv")
WEBM = SniffedMedia("video", "video/webm", ".webm")
AVI = SniffedMedia("video", "video/x-msvideo", ".avi")

# Pillow's format name for each image type we accept.
_PIL_FORMATS = {
    "image/jpeg": {"JPEG", "MPO"},  # MPO: multi-picture JPEG from some cameras
    "image/png": {"PNG"},
    "image/gif": {"GIF"},
    "image/webp": {"WEBP"},
    "image/bmp": {"BMP", "DIB"},
    "image/tiff": {"TIFF"},
    "image/heic": {"HEIF"},
}

_HEVC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"}
_MP4_BRANDS = {
    b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42",
    b"avc1", b"M4V ", b"M4VP", b"mp71", b"dash", b"f4v ", b"MSNV", b"XAVC",
}  # fmt: skip
_MOV_BRANDS = {b"qt  "}
_BMP_DIB_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}


def _ftyp_kind(head: bytes) -> SniffedMedia | None:
    if len(head) < 12 or head[4:8] != b"ftyp":
        return None
    size = struct.unpack(">I", head[:4])[0]
    major = head[8:12]
    end = min(max(size, 16), len(head))
    compatible = {head[i : i + 4] for i in range(16, end - 3, 4)}
    if b"avif" in compatible or major in {b"avif", b"avis"}:
        return None  # AVIF: not on the accepted list
    if major in _HEVC_BRANDS:
        return HEIC
    if major in {b"mif1", b"msf1"}:
        # A generic HEIF container: HEIC only with an HEVC brand beside it
        # (otherwise it may hold AVIF or JPEG images we do not accept).
        return HEIC if compatible & _HEVC_BRANDS else None
    if major in _MOV_BRANDS:
        return MOV
    if major in _MP4_BRANDS or compatible & (_MP4_BRANDS - {b"dash"}):
        return MP4
    return None


def _ebml_kind(head: bytes) -> SniffedMedia | None:
    if not head.startswith(b"\x1a\x45\xdf\xa3"):
        return None
    # DocType element (0x4282) followed by a one-byte size and the name.
    at = head.find(b"\x42\x82")
    if at != -1 and at + 3 < len(head):
        doctype = head[at + 3 : at + 3 + (head[at + 2] & 0x7F)]
        if doctype == b"webm":
            return WEBM
        if doctype == b"matroska":
            return MKV
    return None


def sniff_bytes(head: bytes) -> SniffedMedia | None:
    """The media type of a file starting with ``head`` (first SNIFF_BYTES), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return GIF
    if head[:4] == b"RIFF" and len(head) >= 12:
        if head[8:12] == b"WEBP":
            return WEBP
        if head[8:12] == b"AVI ":
            return AVI
        return None
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return TIFF
    if head[:2] == b"BM" and len(head) >= 18:
        # "BM" alone is two ASCII letters; the DIB header size makes it a BMP.
        if struct.unpack("<I", head[14:18])[0] in _BMP_DIB_SIZES:
            return BMP
        return None
    return _ftyp_kind(head) or _ebml_kind(head)


def _file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError as exc:
        raise MediaRejected(f"{path.name}: the file does not exist", "empty") from exc


def sniff_media(path: str | os.PathLike) -> SniffedMedia:
    """What ``path`` really is, from its first bytes. Raises MediaRejected
    ("empty" or "unsupported-type")."""
    path = Path(path)
    if _file_size(path) == 0:
        raise MediaRejected("The file is empty (0 bytes).", "empty")
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
    sniffed = sniff_bytes(head)
    if sniffed is None:
        raise MediaRejected(
            "This is not a supported photo or video: Facet accepts JPEG, PNG, WebP, BMP, "
            "GIF, TIFF and HEIC images and MP4, MOV, MKV, WebM and AVI videos "
            "(the type is read from the file's content, not its name).",
            "unsupported-type",
        )
    return sniffed


def validate_image(path: str | os.PathLike, *, max_bytes: int, max_pixels: int) -> ImageInfo:
    """Check that ``path`` is a complete, plain image within limits, without
    decoding its pixels.

    In order: empty, over ``max_bytes``, not an accepted image type (sniffed),
    cut short before the format's end marker (truncated), a payload hidden in
    or after the image (polyglot), and more than ``max_pixels`` according to
    the header. Raises MediaRejected; returns the stored size and the sniffed
    mime type.
    """
    path = Path(path)
    sniffed = _check_file(path, max_bytes)
    width, height = _open_image(path, sniffed, max_pixels)
    return ImageInfo(width=width, height=height, mime=sniffed.mime)


def load_validated_image(
    path: str | os.PathLike, *, max_bytes: int, max_pixels: int
) -> tuple[ImageInfo, np.ndarray]:
    """:func:`validate_image`, then the pixels the engines want, decoding
    once (:func:`decode_image`). ImageInfo keeps the stored (pre-EXIF-rotation) size."""
    path = Path(path)
    sniffed = _check_file(path, max_bytes)
    width, height = _open_image(path, sniffed, max_pixels)
    return ImageInfo(width=width, height=height, mime=sniffed.mime), decode_image(
        path, max_pixels=max_pixels
    )


def decode_image(source, *, max_pixels: int) -> np.ndarray:
    """``recognition.imaging.load_image`` (upright per EXIF, RGB uint8,
    contiguous), its refusals as MediaRejected: pixels damaged inside a file
    whose structure is complete are found here, by the one decode."""
    from recognition.errors import ImageTooLarge, UndecodableImage
    from recognition.imaging import load_image

    try:
        return load_image(source, max_pixels=max_pixels)
    except ImageTooLarge as exc:
        raise MediaRejected(
            f"The image is too large to decode safely ({exc}).", "pixel-bomb"
        ) from exc
    except UndecodableImage as exc:
        if "truncated" in str(exc).lower():
            raise MediaRejected(_TRUNCATED, "truncated") from exc
        raise MediaRejected(
            f"The image's pixel data is damaged and could not be decoded ({exc}); "
            "export or copy the photo again and upload the new file.",
            "undecodable",
        ) from exc


_TRUNCATED = (
    "The image file is truncated (incomplete upload or copy?); please upload the complete file."
)


def _check_file(path: Path, max_bytes: int) -> SniffedMedia:
    """Size, type, structure and polyglot checks: everything before Pillow parses."""
    size = _file_size(path)
    if size == 0:
        raise MediaRejected("The file is empty (0 bytes).", "empty")
    if size > max_bytes:
        raise MediaRejected(
            f"The file is {_mb(size)}; the limit for images is {_mb(max_bytes)}.", "too-large"
        )
    sniffed = sniff_media(path)
    if sniffed.kind != "image":
        raise MediaRejected(
            f"Expected a photo but this is a video ({sniffed.mime}).", "unsupported-type"
        )
    if sniffed is HEIC and not HEIF_SUPPORTED:  # pragma: no cover - optional dependency
        raise MediaRejected("HEIC photos are not supported on this server.", "unsupported-type")
    _check_structure(path, sniffed)
    return sniffed


def _open_image(path: Path, sniffed: SniffedMedia, max_pixels: int) -> tuple[int, int]:
    """Header checks with Pillow (format, pixel count); Pillow reads the
    header only. Returns (width, height)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with Image.open(path) as im:
                if im.format not in _PIL_FORMATS[sniffed.mime]:
                    raise MediaRejected(
                        f"The file starts like {sniffed.mime} but decodes as {im.format}.",
                        "undecodable",
                    )
                width, height = im.size
                _check_pixels(width, height, max_pixels)
                _check_density(width, height, path.stat().st_size)
        except MediaRejected:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            count = f"{int(claimed.group(1)):,} pixels" if claimed else "too many pixels"
            raise MediaRejected(
                f"The image claims to be {count}; the limit is {max_pixels:,} pixels "
                "(refused as a decompression bomb).",
                "pixel-bomb",
            ) from exc
        except UnidentifiedImageError as exc:
            raise MediaRejected(
                "The image could not be read: its content is not a valid "
                f"{sniffed.mime.split('/')[1].upper()} image.",
                "undecodable",
            ) from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, MemoryError) as exc:
            text = str(exc) or type(exc).__name__
            if "truncated" in text.lower() or isinstance(exc, EOFError):
                raise MediaRejected(_TRUNCATED, "truncated") from exc
            raise MediaRejected(f"The image could not be decoded: {text}.", "undecodable") from exc
    return width, height


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise MediaRejected("The image has no pixels (zero width or height).", "undecodable")
    if width * height > max_pixels:
        raise MediaRejected(
            f"The image claims to be {width}x{height} = {width * height:,} pixels; "
            f"the limit is {max_pixels:,} pixels.",
            "pixel-bomb",
        )


# A photo's file holds at least a byte for every few hundred bytes of pixels
# it decodes to (real photos here: at most 1 for 60). Far fewer means a
# header that declares a picture its data does not hold (a damaged or forged
# JPEG decodes to grey) or a nearly blank canvas: either way seconds of
# decoding and face detection for nothing. Small images decode cheaply.
MAX_DECODED_BYTES_PER_FILE_BYTE = 400
DENSITY_CHECK_FROM_PIXELS = 4_000_000


def _check_density(width: int, height: int, file_size: int) -> None:
    pixels = width * height
    if pixels < DENSITY_CHECK_FROM_PIXELS:
        return
    if pixels * 3 > MAX_DECODED_BYTES_PER_FILE_BYTE * max(file_size, 1):
        raise MediaRejected(
            f"The image declares {width}x{height} pixels but its file holds only "
            f"{_mb(file_size)}: it is damaged, blank, or built to waste processing time "
            "(refused as a decompression bomb).",
            "pixel-bomb",
        )


def _mb(n: int) -> str:
    return f"{n / 1_000_000:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


# --- polyglots -----------------------------------------------------------------

# Markup or script that a browser or interpreter would run, anywhere in the
# file (JPEG comments and PNG text chunks are the classic hiding places).
# Random compressed data matches these 5+ byte strings with negligible odds.
_ACTIVE_CONTENT = re.compile(
    rb"<\?php|<script|<html|<!doctype\s+html|<iframe|<body[\s>]|<svg[\s>]|javascript:",
    re.IGNORECASE,
)
# Signatures of other file formats, refused after the image's end.
_PAYLOAD_MAGIC = (
    (b"PK\x03\x04", "a ZIP archive"),
    (b"PK\x05\x06", "a ZIP archive"),
    (b"%PDF", "a PDF document"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x1f\x8b", "gzip data"),
    (b"\x7fELF", "a program (ELF)"),
    (b"MZ", "a Windows program"),
    (b"#!", "a script"),
)
_PADDING = frozenset(b"\x00\xff\r\n\t ")


# Formats whose structure says where the image ends: one cut short is refused
# before anything decodes it. (TIFF has no such end: its decoder tells.)
_ENDS_KNOWN = frozenset(
    {"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/heic"}
)


def _check_structure(path: Path, sniffed: SniffedMedia) -> None:
    """Refuse images cut short before their end marker, and images that are
    also something else: trailing data after the format's end marker, an
    embedded ZIP directory, or active markup."""
    name = sniffed.mime.split("/")[1].upper()
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        end, regions = _structure(data, sniffed)
        size = len(data)
        if regions is None:
            match = _ACTIVE_CONTENT.search(data)
        else:  # only metadata: compressed pixels could match by chance
            match = next((m for a, b in regions if (m := _ACTIVE_CONTENT.search(data, a, b))), None)
        if match:
            raise MediaRejected(
                f"The {name} image contains embedded web markup or script "
                f"({match.group(0).decode('latin-1')!r}); such files are refused.",
                "polyglot",
            )
        if end is not None and end < len(data):
            trailer_size = len(data) - end
            head = data[end : end + 65536]
            if trailer_size > len(head) or any(b not in _PADDING for b in head):
                start = head.lstrip(bytes(_PADDING))
                kind = next((w for magic, w in _PAYLOAD_MAGIC if start.startswith(magic)), "data")
                if kind == "data" and _ACTIVE_CONTENT.search(head):
                    kind = "web markup or script"
                raise MediaRejected(
                    f"The {name} image has {trailer_size:,} bytes of {kind} hidden after its end; "
                    "files that are an image and something else at once are refused.",
                    "polyglot",
                )
    if zipfile.is_zipfile(path):  # a ZIP directory appended to any format
        raise MediaRejected(
            f"The {name} image also contains a ZIP archive; such files are refused.", "polyglot"
        )
    # Last: a broken structure means the whole file was scanned for payloads above.
    if sniffed.mime in _ENDS_KNOWN and (end is None or end > size):
        raise MediaRejected(_TRUNCATED, "truncated")


def _structure(data, sniffed: SniffedMedia) -> tuple[int | None, list[tuple[int, int]] | None]:
    """(offset just past the image's own data, metadata regions to scan for
    markup). The offset is None if the format has no reliable end (TIFF) or
    the structure is too broken to tell (the decoder reports that); regions
    is None when the whole file must be scanned."""
    regions: list[tuple[int, int]] = []
    try:
        if sniffed is JPEG:
            end = _jpeg_end(data, regions)
            return end, regions if end is not None else None
        if sniffed is PNG:
            end = _png_end(data, regions)
            return end, regions if end is not None else None
        if sniffed is GIF:
            return _gif_end(data), None
        if sniffed is WEBP:
            riff_size = struct.unpack("<I", data[4:8])[0]
            return 8 + riff_size + (riff_size & 1), None
        if sniffed is BMP:
            declared = struct.unpack("<I", data[2:6])[0]
            return (declared if declared >= 26 else None), None
        if sniffed is HEIC:
            return _bmff_end(data), None
    except (struct.error, IndexError):
        return None, None
    return None, None


_BMFF_TOP_LEVEL = frozenset(
    b"ftyp meta mdat free skip moov moof mfra uuid styp sidx wide pdin prft emsg meco idat".split()
)


def _bmff_end(data) -> int | None:
    """Just past the last top-level ISO-BMFF box (HEIC), or None if a box
    runs past the end of the file (truncated: the decoder says so)."""
    pos, n = 0, len(data)
    while pos + 8 <= n:
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        box_type = data[pos + 4 : pos + 8]
        if size == 1 and pos + 16 <= n:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            return n  # the last box runs to the end of the file
        if size < 8 or box_type not in _BMFF_TOP_LEVEL:
            return pos  # not a box of an image file: whatever follows the image
        pos += size
    return pos if pos <= n else None


def _jpeg_end(data, regions: list[tuple[int, int]]) -> int | None:
    """Walk JPEG segments and entropy-coded scans to just past the first EOI
    that ends the main image (EXIF thumbnails live inside APP1 and are skipped).
    Appends the marker segments (metadata, tables, comments) to ``regions``."""
    n = len(data)
    pos = 2  # after SOI
    while pos + 2 <= n:  # an EOI is two bytes, and may end the file
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:
            return pos + 2
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        if pos + 4 > n:
            return None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        regions.append((pos, pos + 2 + length))
        pos += 2 + length
        if marker == 0xDA:  # start of scan: skip entropy-coded data
            while True:
                pos = data.find(b"\xff", pos)
                if pos == -1 or pos + 1 >= n:
                    return None  # no EOI: truncated, the decoder says so
                following = data[pos + 1]
                if following == 0x00 or 0xD0 <= following <= 0xD7:
                    pos += 2  # stuffed 0xFF or restart marker: still scan data
                elif following == 0xFF:
                    pos += 1
                else:
                    break  # a real marker (EOI, DHT, next SOS of a progressive JPEG)
    return None


def _png_end(data, regions: list[tuple[int, int]]) -> int | None:
    """Just past IEND; appends every chunk but IDAT (pixels) to ``regions``."""
    pos = 8
    n = len(data)
    while pos + 12 <= n:
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        ctype = data[pos + 4 : pos + 8]
        if ctype != b"IDAT":
            regions.append((pos, pos + 12 + length))
        pos += 12 + length
        if ctype == b"IEND":
            return pos
    return None


def _gif_end(data) -> int | None:
    n = len(data)
    flags = data[10]
    pos = 13 + (3 * (2 ** ((flags & 7) + 1)) if flags & 0x80 else 0)

    def skip_sub_blocks(p: int) -> int:
        while p < n and data[p] != 0:
            p += data[p] + 1
        return p + 1

    while pos < n:
        block = data[pos]
        if block == 0x3B:
            return pos + 1
        if block == 0x21:  # extension: label, sub-blocks
            pos = skip_sub_blocks(pos + 2)
        elif block == 0x2C:  # image descriptor, optional local table, LZW size, data
            local = data[pos + 9]
            pos += 10 + (3 * (2 ** ((local & 7) + 1)) if local & 0x80 else 0)
            pos = skip_sub_blocks(pos + 1)
        else:
            return None
    return None
