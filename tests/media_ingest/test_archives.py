"""Zip import: good archives unpack (junk skipped), hostile ones are refused
whole, with an "archive-..." code and the offending entry named."""

from __future__ import annotations

import gzip
import io
import stat
import struct
import zipfile

import pytest

from media_ingest.archives import iter_zip_members, safe_member_name
from media_ingest.validation import REJECTION_CODES, MediaRejected, sniff_media
from tests.media_ingest.conftest import image_bytes

LIMITS = {
    "max_entries": 100,
    "max_total_bytes": 50_000_000,
    "max_ratio": 100.0,
    "max_member_bytes": 20_000_000,
}


def _zip(tmp_path, entries, name="upload.zip", compression=zipfile.ZIP_DEFLATED):
    """entries: (name or ZipInfo, bytes) pairs."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for entry, data in entries:
            zf.writestr(entry, data)
    return path


def _refused(path, **overrides) -> MediaRejected:
    with pytest.raises(MediaRejected) as caught:
        list(iter_zip_members(path, **{**LIMITS, **overrides}))
    assert caught.value.code in REJECTION_CODES and caught.value.code.startswith("archive-")
    return caught.value


def test_members_are_extracted_and_junk_is_skipped(tmp_path):
    jpeg, png = image_bytes("JPEG"), image_bytes("PNG")
    path = _zip(
        tmp_path,
        [
            ("holiday/", b""),
            ("holiday/beach.jpg", jpeg),
            ("./holiday/sub/x.png", png),
            ("__MACOSX/holiday/._beach.jpg", b"\x00\x05\x16\x07junk"),
            ("holiday/.DS_Store", b"junk"),
            ("Thumbs.db", b"junk"),
            ("./notes.txt", b"not media: the caller's validation decides"),
        ],
    )
    members = iter_zip_members(path, **LIMITS)
    seen = {}
    for name, extracted in members:
        seen[name] = extracted.read_bytes()
        temp_dir = extracted.parent
        assert extracted.name.startswith("member-")  # server-generated file name
    assert seen == {
        "holiday/beach.jpg": jpeg,
        "holiday/sub/x.png": png,
        "notes.txt": b"not media: the caller's validation decides",
    }
    assert not temp_dir.exists()  # removed once the iterator is exhausted


def test_closing_early_removes_the_temporary_files(tmp_path):
    path = _zip(tmp_path, [("a.jpg", image_bytes("JPEG")), ("b.jpg", image_bytes("JPEG"))])
    members = iter_zip_members(path, **LIMITS)
    _, first = next(members)
    assert sniff_media(first).mime == "image/jpeg"
    members.close()
    assert not first.exists()


@pytest.mark.parametrize(
    "name",
    ["../evil.jpg", "photos/../../evil.jpg", "/etc/cron.d/evil", "C:/evil.jpg",
     "c:evil.jpg", "photos\\..\\evil.jpg", "photos/\x1b[2Jevil.jpg"],
)  # fmt: skip
def test_path_traversal_is_refused(tmp_path, name):
    path = _zip(tmp_path, [("fine.jpg", image_bytes("JPEG")), (zipfile.ZipInfo(name), b"x")])
    caught = _refused(path)
    assert caught.code == "archive-unsafe-path"
    assert "unsafe path" in caught.reason
    assert not (tmp_path.parent / "evil.jpg").exists()


def test_safe_member_name_normalises_harmless_forms():
    assert safe_member_name("./a//b/./c.jpg") == "a/b/c.jpg"
    assert safe_member_name("a..b/c...jpg") == "a..b/c...jpg"


def test_symlinks_are_refused(tmp_path):
    link = zipfile.ZipInfo("photos/link.jpg")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    caught = _refused(_zip(tmp_path, [(link, b"/etc/passwd")]))
    assert caught.code == "archive-symlink" and "photos/link.jpg" in caught.reason


@pytest.mark.parametrize(
    ("payload", "what"),
    [
        (lambda tmp: _zip(tmp, [("inner.jpg", b"x")], name="inner.zip").read_bytes(), "ZIP"),
        (lambda tmp: gzip.compress(b"hello"), "gzip"),
        (lambda tmp: b"7z\xbc\xaf\x27\x1c" + bytes(100), "7-Zip"),
        (lambda tmp: b"Rar!\x1a\x07\x01\x00" + bytes(100), "RAR"),
        (lambda tmp: bytes(257) + b"ustar\x0000" + bytes(300), "tar"),
    ],
)
def test_nested_archives_are_refused_by_content_not_name(tmp_path, payload, what):
    path = _zip(tmp_path, [("ok.jpg", image_bytes("JPEG")), ("holiday.jpg", payload(tmp_path))])
    caught = _refused(path)
    assert caught.code == "archive-nested"
    assert "holiday.jpg" in caught.reason and what in caught.reason


def test_zip_bomb_ratio_is_refused_before_extraction(tmp_path):
    path = _zip(tmp_path, [("bomb.bmp", bytes(20_000_000))])
    assert path.stat().st_size < 100_000
    caught = _refused(path)
    assert caught.code == "archive-ratio" and "bomb.bmp" in caught.reason


def test_total_size_member_size_and_entry_count_limits(tmp_path):
    stored = zipfile.ZIP_STORED
    big = _zip(tmp_path, [(f"{i}.jpg", bytes(400_000)) for i in range(5)], compression=stored)
    assert _refused(big, max_total_bytes=1_000_000).code == "archive-too-large"
    assert _refused(big, max_member_bytes=100_000).code == "archive-too-large"
    many = _zip(tmp_path, [(f"{i}.jpg", b"x") for i in range(30)], name="many.zip")
    caught = _refused(many, max_entries=10)
    assert caught.code == "archive-too-many-entries" and "30" in caught.reason


def test_sizes_that_lie_are_caught_while_streaming(tmp_path):
    """Headers declare 1,000 bytes; the data inflates to 300,000."""
    path = _zip(tmp_path, [("liar.jpg", bytes(300_000))])
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<I", data, local + 22, 1000)
    struct.pack_into("<I", data, central + 24, 1000)
    path.write_bytes(bytes(data))
    caught = _refused(path)
    assert caught.code in {"archive-corrupt", "archive-too-large"}
    assert "liar.jpg" in caught.reason


def test_encrypted_members_are_refused(tmp_path):
    path = _zip(tmp_path, [("secret.jpg", b"x" * 100)])
    data = bytearray(path.read_bytes())  # zipfile cannot encrypt: set the flag bit
    data[data.index(b"PK\x03\x04") + 6] |= 0x1
    data[data.index(b"PK\x01\x02") + 8] |= 0x1
    path.write_bytes(bytes(data))
    caught = _refused(path)
    assert caught.code == "archive-encrypted" and "secret.jpg" in caught.reason


def test_not_a_zip_is_refused(tmp_path):
    fake = tmp_path / "fake.zip"
    fake.write_bytes(b"this is text named .zip")
    assert _refused(fake).code == "archive-corrupt"
    broken = tmp_path / "broken.zip"
    broken.write_bytes(_zip(tmp_path, [("a.jpg", image_bytes("JPEG"))]).read_bytes()[:-30])
    assert _refused(broken).code == "archive-corrupt"


def test_in_memory_zip_bytes_round_trip(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("only.png", image_bytes("PNG"))
    path = tmp_path / "mem.zip"
    path.write_bytes(buffer.getvalue())
    assert [name for name, _ in iter_zip_members(path, **LIMITS)] == ["only.png"]
