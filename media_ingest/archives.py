"""Unpack an uploaded zip safely, all or nothing.

A zip is untrusted in every field: names may climb out of the target
directory (``../evil.jpg``, ``/etc/passwd``, ``C:\\x``), members may be
symlinks, encrypted, other archives (a zip bomb's favourite trick), or
declare small sizes and inflate to gigabytes. Here:

1. the central directory is checked before any byte is extracted: entry
   count, names, symlinks, encryption, declared sizes and compression
   ratios, overlapping entries;
2. every member is streamed into a private temporary directory under a
   server-generated name (archive names never touch the file system), with
   the bytes actually produced counted against the same limits, and its
   first bytes checked for archive signatures;
3. only when the whole archive passed are members yielded.

So a refused archive yields nothing: the caller never half-imports one.
Plain Python: importable without Django settings.
"""

from __future__ import annotations

import os
import re
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from media_ingest.validation import MediaRejected

DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_TOTAL_BYTES = 2 * 1024**3
DEFAULT_MAX_MEMBER_BYTES = 512 * 1024**2
DEFAULT_MAX_RATIO = 100.0
# Below this size a high compression ratio is harmless (a blank 1 MB BMP
# legitimately compresses 500:1); the total limit still applies.
RATIO_FLOOR_BYTES = 1024**2
_CHUNK = 1024 * 1024

_JUNK_DIRS = {"__MACOSX"}
_JUNK_FILES = {".DS_Store", "Thumbs.db", "desktop.ini", "ehthumbs.db"}
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# Signatures of archive and compressed formats, refused inside an archive.
_ARCHIVE_MAGIC = (
    (0, b"PK\x03\x04", "a ZIP archive"),
    (0, b"PK\x05\x06", "a ZIP archive"),
    (0, b"PK\x07\x08", "a ZIP archive"),
    (0, b"\x1f\x8b", "a gzip file"),
    (0, b"BZh", "a bzip2 file"),
    (0, b"\xfd7zXZ\x00", "an xz file"),
    (0, b"(\xb5/\xfd", "a zstd file"),
    (0, b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (0, b"Rar!\x1a\x07", "a RAR archive"),
    (0, b"MSCF", "a CAB archive"),
    (257, b"ustar", "a tar archive"),
)


class ArchiveMember(NamedTuple):
    name: str  # safe relative POSIX name from the archive, e.g. "holiday/img_01.jpg"
    path: Path  # the extracted bytes, in a private temporary directory


def iter_zip_members(
    path: str | os.PathLike,
    *,
    max_entries: int = DEFAULT_MAX_ENTRIES,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES,
) -> Iterator[ArchiveMember]:
    """Yield (name, path) for every regular file of the zip at ``path``,
    skipping directories and OS junk (``__MACOSX/``, ``.DS_Store``,
    ``Thumbs.db``, AppleDouble ``._*``).

    Every check runs before the first member is yielded; a refused archive
    raises MediaRejected (code "archive-...", reason naming the entry) and
    yields nothing. Extracted files live in a temporary directory that is
    removed when the iterator is exhausted or closed: move or copy each file
    you keep before advancing past the end.
    """
    path = Path(path)
    with path.open("rb") as fh:
        if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
            raise MediaRejected("The file is not a ZIP archive.", "archive-corrupt")
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise MediaRejected(f"The ZIP archive is damaged ({exc}).", "archive-corrupt") from exc
    with archive, tempfile.TemporaryDirectory(prefix="facet-zip-") as tmp:
        wanted = _check_directory(archive, path.stat().st_size, max_entries, max_total_bytes,
                                  max_ratio, max_member_bytes)  # fmt: skip
        extracted: list[ArchiveMember] = []
        total = 0
        for number, (name, info) in enumerate(wanted):
            target = Path(tmp) / f"member-{number:06d}"
            total += _extract(archive, info, name, target, max_member_bytes,
                              max_total_bytes - total, max_ratio)  # fmt: skip
            extracted.append(ArchiveMember(name, target))
        yield from extracted
    # TemporaryDirectory removes everything here (also on close()).


def safe_member_name(raw: str) -> str:
    """The normalised relative POSIX name, or MediaRejected for names that
    could escape a directory on any OS."""
    if (
        not raw
        or "\\" in raw
        or raw.startswith("/")
        or _DRIVE.match(raw)
        or _CONTROL.search(raw)
        or any(part == ".." for part in raw.split("/"))
    ):
        raise MediaRejected(
            f"The archive entry {raw!r} has an unsafe path (absolute, drive letter, backslash "
            "or '..'); the archive is refused.",
            "archive-unsafe-path",
        )
    parts = [p for p in PurePosixPath(raw).parts if p not in ("", ".")]
    return "/".join(parts)


def _is_junk(name: str) -> bool:
    parts = name.split("/")
    return (
        any(part in _JUNK_DIRS for part in parts[:-1])
        or parts[-1] in _JUNK_FILES
        or parts[-1].startswith("._")
    )


def _check_directory(
    archive: zipfile.ZipFile,
    archive_size: int,
    max_entries: int,
    max_total_bytes: int,
    max_ratio: float,
    max_member_bytes: int,
) -> list[tuple[str, zipfile.ZipInfo]]:
    infos = archive.infolist()
    if len(infos) > max_entries:
        raise MediaRejected(
            f"The archive has {len(infos):,} entries; the limit is {max_entries:,}.",
            "archive-too-many-entries",
        )
    wanted: list[tuple[str, zipfile.ZipInfo]] = []
    seen_offsets: set[int] = set()
    declared_total = 0
    for info in infos:
        name = safe_member_name(info.filename)
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_ISLNK(mode):
            raise MediaRejected(
                f"The archive entry {name!r} is a symbolic link; the archive is refused.",
                "archive-symlink",
            )
        if info.is_dir() or not name or _is_junk(name):
            continue
        if info.flag_bits & 0x1:
            raise MediaRejected(
                f"The archive entry {name!r} is encrypted; upload an archive without a password.",
                "archive-encrypted",
            )
        if info.header_offset in seen_offsets:  # overlapping entries: a zip bomb trick
            raise MediaRejected(
                f"The archive entry {name!r} shares its data with another entry; "
                "the archive is refused.",
                "archive-corrupt",
            )
        seen_offsets.add(info.header_offset)
        _check_member_size(name, info.file_size, info.compress_size, max_member_bytes, max_ratio)
        declared_total += info.file_size
        if declared_total > max_total_bytes:
            raise MediaRejected(
                f"The archive unpacks to more than {_size(max_total_bytes)} (reached at entry "
                f"{name!r}).",
                "archive-too-large",
            )
        wanted.append((name, info))
    if declared_total > RATIO_FLOOR_BYTES and declared_total > max_ratio * max(archive_size, 1):
        raise MediaRejected(
            f"The archive unpacks to {declared_total / max(archive_size, 1):.0f} times its size; "
            f"the limit is {max_ratio:g} (a zip bomb?).",
            "archive-ratio",
        )
    return wanted


def _check_member_size(
    name: str, size: int, compressed: int, max_member_bytes: int, max_ratio: float
) -> None:
    if size > max_member_bytes:
        raise MediaRejected(
            f"The archive entry {name!r} is {_size(size)}; the limit per file is "
            f"{_size(max_member_bytes)}.",
            "archive-too-large",
        )
    if size > RATIO_FLOOR_BYTES and size > max_ratio * max(compressed, 1):
        raise MediaRejected(
            f"The archive entry {name!r} expands {size / max(compressed, 1):.0f} times "
            f"(limit {max_ratio:g}): refused as a zip bomb.",
            "archive-ratio",
        )


def _extract(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    name: str,
    target: Path,
    max_member_bytes: int,
    budget: int,
    max_ratio: float,
) -> int:
    """Stream one member to ``target``, counting real bytes; returns its size."""
    written = 0
    try:
        with archive.open(info) as source, target.open("xb") as sink:
            first = True
            while chunk := source.read(_CHUNK):
                if first:
                    _check_not_archive(name, chunk)
                    first = False
                written += len(chunk)
                limit = min(max_member_bytes, budget, info.file_size)
                if written > limit:
                    raise MediaRejected(
                        f"The archive entry {name!r} holds more data than it declares or than "
                        "the limits allow; the archive is refused.",
                        "archive-too-large",
                    )
                _check_member_size(name, written, info.compress_size, max_member_bytes, max_ratio)
                sink.write(chunk)
    except MediaRejected:
        raise
    except NotImplementedError as exc:
        raise MediaRejected(
            f"The archive entry {name!r} uses an unsupported compression method.",
            "archive-corrupt",
        ) from exc
    except RuntimeError as exc:  # zipfile: "File ... is encrypted, password required"
        raise MediaRejected(
            f"The archive entry {name!r} is encrypted; upload an archive without a password.",
            "archive-encrypted",
        ) from exc
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise MediaRejected(
            f"The archive entry {name!r} is damaged ({exc}).", "archive-corrupt"
        ) from exc
    return written


def _check_not_archive(name: str, first_chunk: bytes) -> None:
    head = first_chunk[:512]
    for offset, magic, what in _ARCHIVE_MAGIC:
        if head[offset : offset + len(magic)] == magic:
            raise MediaRejected(
                f"The archive entry {name!r} is itself {what}; archives inside archives are "
                "refused.",
                "archive-nested",
            )


def _size(n: int) -> str:
    for unit, factor in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}"
    return f"{n} bytes"
