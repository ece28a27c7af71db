"""Tiny files that would cost seconds of decoding and detection are refused
up front, on upload and on search, and searches are throttled per member."""

from __future__ import annotations

import io
import struct
import time
import zipfile

import pytest
from PIL import Image

from media_ingest.models import MediaFile
from tests.media_ingest.test_upload_api import _named, _token_client


def _flat_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height), 1).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _jpeg_declaring(width: int, height: int) -> bytes:
    """A real 64x48 JPEG whose frame header claims ``width`` x ``height``: its data
    is missing for nearly all of the picture (libjpeg would fill it with grey)."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 80, 40)).save(out, format="JPEG")
    data = bytearray(out.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _polyglot(photo: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("index.html", "<script>alert(1)</script>")
    return photo + archive.getvalue()


COSTLY = {
    "36 Mpx flat PNG": lambda: _flat_png(6000, 6000),
    "39 Mpx JPEG with its data missing": lambda: _jpeg_declaring(7200, 5400),
}


@pytest.fixture
def operator(alpha):
    return _token_client(alpha, alpha.owner)


@pytest.mark.parametrize("name", sorted(COSTLY))
def test_an_upload_that_would_cost_seconds_is_refused_at_once(alpha, operator, name):
    data = COSTLY[name]()
    assert len(data) < 200_000  # tiny on the wire
    started = time.process_time()
    response = operator.post("/api/v1/media/", {"file": _named("x.png", data)})
    assert time.process_time() - started < 2  # refused from the header, not decoded
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "pixel-bomb"
    assert "declares" in response.json()["detail"]
    from django_tenants.utils import schema_context

    with schema_context(alpha.schema_name):
        assert not MediaFile.objects.exists()


@pytest.mark.parametrize(
    ("make", "code", "words"),
    [
        (lambda: _flat_png(4000, 3000), "pixel-bomb", "declares"),
        (lambda: _jpeg_declaring(4000, 3000), "pixel-bomb", "declares"),
        # Within the upload limit (40 Mpx) but above what a search decodes (16 Mpx).
        (COSTLY["39 Mpx JPEG with its data missing"], "pixel-bomb", "16,000,000"),
    ],
    ids=["flat-png", "forged-jpeg", "over-the-query-limit"],
)
def test_a_search_by_such_a_photo_is_refused_with_a_reason(alpha, make, code, words):
    client = _token_client(alpha, alpha.viewer)
    reply = client.post("/api/v1/search/", {"image": _named("q.jpg", make())})
    assert reply.status_code == 400, reply.content
    assert reply.json()["code"] == code and words in reply.json()["detail"]


def test_a_search_by_a_jpeg_with_a_zip_appended_is_refused(alpha):
    from skimage import data as samples

    out = io.BytesIO()
    Image.fromarray(samples.astronaut()).save(out, format="JPEG")
    client = _token_client(alpha, alpha.viewer)
    reply = client.post("/api/v1/search/", {"image": _named("q.jpg", _polyglot(out.getvalue()))})
    assert reply.status_code == 400
    assert reply.json()["code"] == "polyglot"


def test_a_search_body_over_the_photo_limit_is_refused_from_its_length(alpha):
    client = _token_client(alpha, alpha.viewer)
    reply = client.post(
        "/api/v1/search/", {"image": _named("q.jpg", b"\xff\xd8\xff" + b"0" * (21 * 1024 * 1024))}
    )
    assert reply.status_code == 413
    assert reply.json()["code"] == "too-large"


def test_searches_are_throttled_per_member_with_retry_after(alpha, beta, settings):
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "search": "3/min"}
    client = _token_client(alpha, alpha.viewer)
    statuses = [client.post("/api/v1/search/", {"face_id": 999999}).status_code for _ in range(4)]
    assert statuses == [400, 400, 400, 429]
    throttled = client.post("/api/v1/search/", {"face_id": 999999})
    assert int(throttled["Retry-After"]) > 0
    # Another member, and beta's user with the same id, keep their own allowance.
    assert (
        _token_client(alpha, alpha.owner).post("/api/v1/search/", {"face_id": 999999}).status_code
        == 400
    )
    assert (
        _token_client(beta, beta.viewer).post("/api/v1/search/", {"face_id": 999999}).status_code
        == 400
    )
