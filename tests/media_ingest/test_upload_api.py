"""Uploads through the API end to end: real files, real queue payloads, real dlib engine."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.test import Client
from django_q.models import OrmQ
from django_tenants.utils import schema_context
from knox.models import AuthToken

from media_ingest.models import Face, MediaFile

from .conftest import shared_file


def _token_client(setup, account) -> Client:
    with schema_context(setup.schema_name):
        _, token = AuthToken.objects.create(setup.user(account))
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Token {token}")


def _upload(client: Client, name: str, data: bytes):
    return client.post("/api/v1/media/", {"file": _named(name, data)})


def _named(name: str, data: bytes):
    handle = io.BytesIO(data)
    handle.name = name
    return handle


@pytest.fixture
def operator(alpha):
    return _token_client(alpha, alpha.owner)


def test_photo_upload_is_queued_processed_and_browsable(
    alpha, operator, processing, astronaut_jpeg
):
    response = processing(lambda: _upload(operator, "astronaut.jpg", astronaut_jpeg))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "queued" and body["job_id"]

    detail = operator.get(f"/api/v1/media/{body['id']}/").json()
    assert detail["status"] == "done", detail
    assert detail["kind"] == "image" and detail["mime"] == "image/jpeg"
    assert detail["width"] == 512 and detail["face_count"] == len(detail["faces"]) >= 1
    # The astronaut's face (dlib's HOG at upsample 1 also reports a faint second
    # "face" on her suit, as face_recognition does with the same settings).
    face = max(detail["faces"], key=lambda f: f["detector_score"])
    left, top, right, bottom = face["box"]
    assert 150 < left < right < 350 and 30 < top < bottom < 250
    assert 0 < face["quality"] <= 1
    crop = operator.get(face["image_url"])
    assert crop.status_code == 200 and crop["Content-Type"] == "image/jpeg"
    assert crop.content[:3] == b"\xff\xd8\xff"

    job = operator.get(f"/api/v1/jobs/{body['job_id']}/").json()
    assert job["status"] == "done" and job["done_files"] == 1 and job["total_files"] == 1


def test_identical_bytes_return_the_existing_file_without_processing_again(
    alpha, operator, processing, astronaut_jpeg
):
    first = processing(lambda: _upload(operator, "a.jpg", astronaut_jpeg)).json()
    again = _upload(operator, "renamed.jpg", astronaut_jpeg)
    assert again.status_code == 200
    assert again.json()["id"] == first["id"]
    assert OrmQ.objects.count() == 0
    with schema_context(alpha.schema_name):
        assert MediaFile.objects.count() == 1
        assert Face.objects.count() == MediaFile.objects.get().face_count


def test_group_photo_and_photo_without_faces(alpha, operator, processing):
    group = shared_file("groups", "facerec_obama_and_biden.jpg").read_bytes()
    empty = sorted(shared_file("nofaces").glob("*.jpg"))[0].read_bytes()
    group_id = processing(lambda: _upload(operator, "group.jpg", group)).json()["id"]
    empty_id = processing(lambda: _upload(operator, "landscape.jpg", empty)).json()["id"]
    assert operator.get(f"/api/v1/media/{group_id}/").json()["face_count"] >= 2
    no_faces = operator.get(f"/api/v1/media/{empty_id}/").json()
    assert no_faces["status"] == "done" and no_faces["faces"] == []


def _truncated_jpeg(astronaut_jpeg: bytes) -> bytes:
    return astronaut_jpeg[: len(astronaut_jpeg) // 2]


def _pixel_bomb() -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def _polyglot(astronaut_jpeg: bytes) -> bytes:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("payload.html", "<script>alert(1)</script>")
    return astronaut_jpeg + archive.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "code"),
    [
        ("empty.jpg", lambda jpg: b"", "empty"),
        ("half.jpg", _truncated_jpeg, "truncated"),
        ("bomb.png", lambda jpg: _pixel_bomb(), "pixel-bomb"),
        ("polyglot.jpg", _polyglot, "polyglot"),
        ("notes.jpg", lambda jpg: b"just some text, not a photo\n" * 20, "unsupported-type"),
    ],
)
def test_bad_files_are_refused_with_a_reason_and_nothing_is_kept(
    alpha, operator, astronaut_jpeg, name, make, code
):
    response = _upload(operator, name, make(astronaut_jpeg))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == code
    assert len(body["detail"]) > 10
    with schema_context(alpha.schema_name):
        assert not MediaFile.objects.exists()


def test_truncated_video_fails_with_a_reason_and_the_worker_goes_on(
    alpha, operator, processing, astronaut_jpeg
):
    clip = shared_file("videos", "facerec_short_hamilton_clip.mp4").read_bytes()
    broken = processing(lambda: _upload(operator, "cut.mp4", clip[: len(clip) * 3 // 10]))
    assert broken.status_code == 201  # its container header looks like an MP4
    fine = processing(lambda: _upload(operator, "ok.jpg", astronaut_jpeg)).json()
    failed = operator.get(f"/api/v1/media/{broken.json()['id']}/").json()
    assert failed["status"] == "failed"
    assert failed["error_code"].startswith("video-") and failed["error"]
    assert operator.get(f"/api/v1/media/{fine['id']}/").json()["status"] == "done"


def test_batch_of_files_reports_each_one(alpha, operator, processing, astronaut_jpeg):
    group = shared_file("groups", "facerec_two_people.jpg").read_bytes()
    response = processing(
        lambda: operator.post(
            "/api/v1/media/batch/",
            {
                "file": [
                    _named("a.jpg", astronaut_jpeg),
                    _named("b.jpg", group),
                    _named("bad.jpg", b"nope"),
                ]
            },
        )
    )
    assert response.status_code == 202
    body = response.json()
    assert [item["name"] for item in body["accepted"]] == ["a.jpg", "b.jpg"]
    assert body["rejected"] == [
        {
            "name": "bad.jpg",
            "code": body["rejected"][0]["code"],
            "reason": body["rejected"][0]["reason"],
        }
    ]
    job = operator.get(f"/api/v1/jobs/{body['job_id']}/").json()
    assert (job["total_files"], job["done_files"], job["status"]) == (2, 2, "done")
    assert job["rejected"][0]["name"] == "bad.jpg"


def test_zip_import_and_unsafe_zips(alpha, operator, processing, astronaut_jpeg):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("trip/astronaut.jpg", astronaut_jpeg)
        zf.writestr("trip/readme.txt", "not a photo")
    response = processing(
        lambda: operator.post(
            "/api/v1/media/batch/", {"file": _named("trip.zip", archive.getvalue())}
        )
    )
    assert response.status_code == 202
    body = response.json()
    assert [item["name"] for item in body["accepted"]] == ["astronaut.jpg"]
    assert [item["name"] for item in body["rejected"]] == ["readme.txt"]

    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../../evil.jpg", astronaut_jpeg)
    refused = operator.post("/api/v1/media/batch/", {"file": _named("slip.zip", slip.getvalue())})
    assert refused.status_code == 400
    assert refused.json()["code"].startswith("archive-")


def test_list_filters_paginates_and_delete_removes_everything(
    alpha, operator, processing, astronaut_jpeg
):
    from django.core.files.storage import default_storage

    media_id = processing(lambda: _upload(operator, "a.jpg", astronaut_jpeg)).json()["id"]
    listing = operator.get("/api/v1/media/?kind=image&status=done").json()
    assert listing["count"] == 1 and listing["results"][0]["id"] == media_id
    assert operator.get("/api/v1/media/?kind=video").json()["count"] == 0
    assert operator.get("/api/v1/media/?status=bogus").status_code == 400

    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=media_id)
        paths = [media.file.name, *media.faces.values_list("crop", flat=True)]
        assert all(default_storage.exists(p) for p in paths)
    response = processing(lambda: operator.delete(f"/api/v1/media/{media_id}/"))
    assert response.status_code == 204
    with schema_context(alpha.schema_name):
        assert not MediaFile.objects.exists() and not Face.objects.exists()
        assert not any(default_storage.exists(p) for p in paths)
    assert operator.get(f"/api/v1/media/{media_id}/").status_code == 404


def test_viewers_read_but_cannot_upload_or_delete(alpha, astronaut_jpeg):
    viewer = _token_client(alpha, alpha.viewer)
    assert viewer.get("/api/v1/media/").status_code == 200
    assert _upload(viewer, "a.jpg", astronaut_jpeg).status_code == 403
    assert viewer.get("/api/v1/stats/").json()["files"] == 0


def test_stats_count_files_faces_and_states(alpha, operator, processing, astronaut_jpeg):
    processing(lambda: _upload(operator, "a.jpg", astronaut_jpeg))
    stats = operator.get("/api/v1/stats/").json()
    assert stats["files"] == 1 and stats["photos"] == 1 and stats["faces"] >= 1
    assert stats["by_status"]["done"] == 1


def test_uploads_from_the_portal_page_are_recorded_as_web(alpha, astronaut_jpeg):
    response = _upload(alpha.client(alpha.owner), "a.jpg", astronaut_jpeg)  # session, not token
    assert response.status_code == 201
    with schema_context(alpha.schema_name):
        assert MediaFile.objects.get().source == "web"


def test_a_batch_of_exactly_one_photo_is_accepted(alpha, operator, processing, astronaut_jpeg):
    """zipfile.is_zipfile() leaves the file at its end; the photo must still be read whole."""
    response = processing(
        lambda: operator.post("/api/v1/media/batch/", {"file": _named("one.jpg", astronaut_jpeg)})
    )
    assert response.status_code == 202
    body = response.json()
    assert [item["name"] for item in body["accepted"]] == ["one.jpg"], body
    assert body["rejected"] == []
    assert operator.get(f"/api/v1/media/{body['accepted'][0]['id']}/").json()["status"] == "done"


def test_a_photo_with_a_zip_appended_is_not_unpacked_by_the_batch(alpha, operator, astronaut_jpeg):
    response = operator.post(
        "/api/v1/media/batch/", {"file": _named("holiday.jpg", _polyglot(astronaut_jpeg))}
    )
    assert response.status_code == 202
    body = response.json()
    assert body["accepted"] == []
    assert [(r["name"], r["code"]) for r in body["rejected"]] == [("holiday.jpg", "polyglot")]


def test_uploads_past_the_tenants_storage_quota_are_refused_413(alpha, operator, astronaut_jpeg):
    from tenants import services as tenant_services

    tenant_services.tenant_set_quota(tenant=alpha.tenant, megabytes=1)
    first = _upload(operator, "a.jpg", astronaut_jpeg)  # ~80 KB: fits
    assert first.status_code == 201
    big = _png_of_noise(1100)  # well over the 1 MB left
    refused = _upload(operator, "big.png", big)
    assert refused.status_code == 413
    assert refused.json()["code"] == "quota-exceeded"
    assert "storage is full" in refused.json()["detail"]
    # A duplicate of what is stored costs nothing, and is still answered.
    assert _upload(operator, "again.jpg", astronaut_jpeg).status_code == 200
    tenant_services.tenant_set_quota(tenant=alpha.tenant, megabytes=None)  # the default: no limit
    assert _upload(operator, "big.png", big).status_code == 201


def _png_of_noise(kilobytes: int) -> bytes:
    import numpy as np
    from PIL import Image

    side = int((kilobytes * 1024 / 3) ** 0.5) + 1
    pixels = np.random.default_rng(3).integers(0, 255, (side, side, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()
