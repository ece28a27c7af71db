from __future__ import annotations

import io

from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import MediaFile, Source
from media_ingest.views import thumbnail_url
from tenants.tasks import run_tenant_task

from .conftest import shared_file


def _ingest(setup, name, data) -> MediaFile:
    with schema_context(setup.schema_name):
        job = services.job_create(source=Source.WEB)
        media = services.media_accept(
            stream=io.BytesIO(data), name=name, source=Source.WEB, job=job
        ).media
    run_tenant_task(setup.schema_name, "media_ingest.tasks.process_media", media.pk)
    return media


def test_empty_library_invites_an_upload(alpha):
    page = alpha.client(alpha.owner).get("/library/")
    assert page.status_code == 200
    assert b"No photos or videos yet" in page.content and b'href="/upload/"' in page.content


def test_library_grid_filters_and_media_page_with_boxes_and_crops(alpha, astronaut_jpeg):
    media = _ingest(alpha, "astronaut.jpg", astronaut_jpeg)
    client = alpha.client(alpha.viewer)
    grid = client.get("/library/").content.decode()
    assert "astronaut.jpg" in grid and "badge-done" in grid and " face" in grid
    # A small thumbnail, not the original, at a URL that names its version.
    assert f"/library/{media.pk}/thumbnail/" in grid
    with schema_context(alpha.schema_name):
        url = thumbnail_url(MediaFile.objects.get(pk=media.pk))
    assert url in grid
    thumb = client.get(url)
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/jpeg"
    assert "astronaut.jpg" not in client.get("/library/?kind=video").content.decode()
    detail = client.get(f"/library/{media.pk}/").content.decode()
    with schema_context(alpha.schema_name):
        face_count = media.faces.count()
    assert detail.count('class="face-box') == face_count >= 1
    assert 'data-box="' in detail and "/api/v1/faces/" in detail
    faces = client.get("/faces/").content.decode()
    assert "/api/v1/faces/" in faces and "astronaut.jpg" in faces


def test_video_page_has_a_player_and_a_seekable_track_timeline(alpha):
    clip = shared_file("videos", "facerec_short_hamilton_clip.mp4").read_bytes()
    media = _ingest(alpha, "hamilton.mp4", clip)
    client = alpha.client(alpha.viewer)
    page = client.get(f"/library/{media.pk}/").content.decode()
    assert "<video" in page and 'class="timeline"' in page and "data-seek=" in page
    # The player seeks with byte ranges.
    with schema_context(alpha.schema_name):
        name = MediaFile.objects.get(pk=media.pk).file.name
    partial = client.get(f"/media/{name}", HTTP_RANGE="bytes=100-199")
    assert partial.status_code == 206
    assert partial["Content-Range"].startswith("bytes 100-199/")
    assert len(partial.content) == 100


def test_viewers_see_no_upload_page_or_delete_button(alpha, astronaut_jpeg):
    media = _ingest(alpha, "a.jpg", astronaut_jpeg)
    viewer = alpha.client(alpha.viewer)
    assert viewer.get("/upload/").status_code == 403
    assert b"Delete file" not in viewer.get(f"/library/{media.pk}/").content
    assert viewer.post(f"/library/{media.pk}/delete/").status_code == 403
    owner = alpha.client(alpha.owner)
    assert owner.get("/upload/").status_code == 200
    assert owner.post(f"/library/{media.pk}/delete/").status_code == 302
    with schema_context(alpha.schema_name):
        assert not MediaFile.objects.filter(pk=media.pk).exists()
