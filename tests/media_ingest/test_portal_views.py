"""The library, media page and face crops as a portal user meets them: cached
crops and thumbnails, retry, bulk actions, sort and search, recent activity,
and a video's tracks joined by person into timeline lanes."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django_q.models import OrmQ
from django_tenants.utils import schema_context

from media_ingest import selectors, services
from media_ingest.models import FaceTrack, IngestJob, MediaFile, Source
from media_ingest.views import thumbnail_url
from tests import factories

from .conftest import HAMILTON, video_path

YEAR = "max-age=31536000"


def _unit(vector) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def _stored(name: str, data: bytes) -> str:
    if default_storage.exists(name):
        default_storage.delete(name)
    return default_storage.save(name, ContentFile(data))


def test_a_face_crop_is_cached_for_a_year_and_revalidates_with_its_etag(alpha, model):
    with schema_context(alpha.schema_name):
        media = factories.media_file()
        face = factories.face(
            media=media, face_model=model, embedding=_unit(np.ones(128)),
            crop=_stored(f"faces/{media.pk}/0.jpg", b"\xff\xd8crop-bytes"),
        )  # fmt: skip
        face.save()
    client = alpha.client(alpha.viewer)
    first = client.get(f"/api/v1/faces/{face.pk}/image")
    assert first.status_code == 200 and first.content == b"\xff\xd8crop-bytes"
    control = first["Cache-Control"]
    assert "private" in control and YEAR in control and "immutable" in control
    assert first["ETag"].startswith('"')
    again = client.get(f"/api/v1/faces/{face.pk}/image", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    assert client.get("/api/v1/faces/999999/image").status_code == 404


def test_a_thumbnail_url_names_its_version_and_an_old_one_is_sent_to_the_new(alpha):
    with schema_context(alpha.schema_name):
        media = factories.media_file(thumbnail=_stored("thumbs/t-test.jpg", b"\xff\xd8thumb"))
        url = thumbnail_url(media)
    client = alpha.client(alpha.viewer)
    served = client.get(url)
    assert served.status_code == 200 and served.content == b"\xff\xd8thumb"
    assert "immutable" in served["Cache-Control"] and YEAR in served["Cache-Control"]
    stale = client.get(f"/library/{media.pk}/thumbnail/0.jpg")
    assert stale.status_code == 302 and stale["Location"] == url
    grid = client.get("/library/").content.decode()
    assert url in grid and 'loading="lazy"' in grid


def _failed_file(name: str = "broken.jpg") -> MediaFile:
    job = IngestJob.objects.create(source=Source.WEB, total_files=1, failed_files=1)
    return factories.media_file(
        job=job, original_name=name, status="failed", attempts=3,
        error_code="unreadable", error="The file is damaged.",
    )  # fmt: skip


def test_retry_queues_a_failed_file_again_once(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema_name):
        media = _failed_file()
    assert alpha.client(alpha.viewer).post(f"/library/{media.pk}/retry/").status_code == 403
    before = OrmQ.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        page = alpha.client(alpha.owner).post(f"/library/{media.pk}/retry/")
    assert page.status_code == 302 and page["Location"] == f"/library/{media.pk}/"
    assert OrmQ.objects.count() == before + 1
    with schema_context(alpha.schema_name):
        media.refresh_from_db()
        assert (media.status, media.attempts, media.error) == ("queued", 0, "")
        job = IngestJob.objects.get(pk=media.job_id)
        assert job.failed_files == 0 and job.status == "processing"
    # Not failed any more: the API refuses a second retry, and nothing is queued.
    again = alpha.client(alpha.owner).post(f"/api/v1/media/{media.pk}/retry/")
    assert again.status_code == 409 and again.json()["code"] == "not-failed"
    assert OrmQ.objects.count() == before + 1


def test_the_api_retries_a_failed_file(alpha):
    with schema_context(alpha.schema_name):
        media = _failed_file()
    reply = alpha.client(alpha.owner).post(f"/api/v1/media/{media.pk}/retry/")
    assert reply.status_code == 202 and reply.json()["status"] == "queued"
    viewer = alpha.client(alpha.viewer).post(f"/api/v1/media/{media.pk}/retry/")
    assert viewer.status_code == 403


def test_bulk_retry_and_delete_in_one_request_each(alpha, django_capture_on_commit_callbacks):
    with schema_context(alpha.schema_name):
        failed = [_failed_file(f"f{n}.jpg") for n in range(2)]
        done = factories.media_file(original_name="done.jpg")
    ids = [str(m.pk) for m in (*failed, done)]
    owner = alpha.client(alpha.owner)
    with django_capture_on_commit_callbacks(execute=True):
        reply = owner.post("/library/bulk/", {"action": "retry", "media": ids}, follow=True)
    assert b"Queued 2 files again (1 had not failed)" in reply.content
    with schema_context(alpha.schema_name):
        assert set(MediaFile.objects.filter(pk__in=ids).values_list("status", flat=True)) == {
            "queued",
            "done",
        }
    viewer = alpha.client(alpha.viewer)
    assert viewer.post("/library/bulk/", {"action": "delete", "media": ids}).status_code == 403
    assert viewer.post("/library/bulk/", {"action": "retry", "media": ids}).status_code == 403
    reply = owner.post(
        "/library/bulk/", {"action": "delete", "media": ids[:2], "next": "/library/?sort=name"}
    )
    assert reply.status_code == 302 and reply["Location"] == "/library/?sort=name"
    with schema_context(alpha.schema_name):
        assert list(MediaFile.objects.values_list("pk", flat=True)) == [done.pk]


def test_library_sorts_searches_names_and_offers_to_clear_filters(alpha):
    with schema_context(alpha.schema_name):
        factories.media_file(original_name="beach.jpg", face_count=1)
        factories.media_file(original_name="Alps.jpg", face_count=5)
        factories.media_file(original_name="city.jpg", face_count=0)
    client = alpha.client(alpha.viewer)

    def names(query: str) -> list[str]:
        page = client.get(f"/library/?{query}").context["page"]
        return [m.original_name for m in page.object_list]

    assert names("") == ["city.jpg", "Alps.jpg", "beach.jpg"]  # newest first
    assert names("sort=name") == ["Alps.jpg", "beach.jpg", "city.jpg"]
    assert names("sort=faces") == ["Alps.jpg", "beach.jpg", "city.jpg"]
    assert names("q=ALP") == ["Alps.jpg"]
    empty = client.get("/library/?q=nothing-like-it").content.decode()
    assert "No files match these filters" in empty and 'href="/library/">Clear filters' in empty
    # Viewers neither delete nor retry: no selection boxes for them.
    assert "data-select" not in client.get("/library/").content.decode()
    assert "data-select-all" in alpha.client(alpha.owner).get("/library/").content.decode()


def test_a_video_tile_shows_a_play_icon_and_its_duration(alpha):
    with schema_context(alpha.schema_name):
        video = factories.media_file(kind="video", original_name="clip.mp4", duration_s=9.6)
    tile = alpha.client(alpha.viewer).get(f"/library/{video.pk}/tile/").content.decode()
    assert 'class="play"' in tile and "10 s" in tile and "clip.mp4" in tile


def test_recent_activity_lists_file_states_and_refusals_newest_first(alpha):
    with schema_context(alpha.schema_name):
        job = services.job_create(source=Source.ZIP)
        services.job_note_rejected(job=job, name="notes.txt", code="type", reason="not a photo")
        factories.media_file(original_name="a.jpg", face_count=2)
        _failed_file("b.jpg")
    items = alpha.client(alpha.viewer).get("/api/v1/activity/").json()
    messages = [item["message"] for item in items]
    assert messages[0] == "b.jpg failed: The file is damaged."
    assert "a.jpg: 2 faces found" in messages
    assert "notes.txt refused: not a photo" in messages


def _video_with_tracks(model, spans, vectors, duration=10.0) -> MediaFile:
    media = factories.media_file(kind="video", duration_s=duration)
    for ordinal, ((first, last), vector) in enumerate(zip(spans, vectors, strict=True)):
        track = FaceTrack.objects.create(
            media=media, ordinal=ordinal, first_time_s=first, last_time_s=last, frame_count=3
        )
        factories.face(
            media=media, face_model=model, embedding=_unit(vector), ordinal=ordinal, track=track
        ).save()
    return media


def test_tracks_of_one_face_share_a_lane_and_overlapping_tracks_never_do(alpha, model):
    rng = np.random.default_rng(5)
    person, other, third = (rng.standard_normal(128) for _ in range(3))
    spans = [(0.8, 1.3), (0.5, 2.0), (3.8, 7.9), (4.0, 6.0), (9.0, 9.4)]
    vectors = [person, other, person + 0.05 * rng.standard_normal(128), third, third]
    with schema_context(alpha.schema_name):
        media = _video_with_tracks(model, spans, vectors)
        tracks = list(media.tracks.all())
        groups = selectors.track_groups(tracks=tracks, duration_s=media.duration_s)
    spans_of = [[(t.first_time_s, t.last_time_s) for t in g.tracks] for g in groups]
    assert [(0.8, 1.3), (3.8, 7.9)] in spans_of  # the same face, joined
    assert [(4.0, 6.0), (9.0, 9.4)] in spans_of
    assert [(0.5, 2.0)] in spans_of
    for lane in {g.lane for g in groups}:
        bars = sorted(
            (t.first_time_s, t.last_time_s) for g in groups if g.lane == lane for t in g.tracks
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(bars)), bars


def test_the_same_face_twice_at_once_is_two_people(alpha, model):
    vector = np.ones(128)
    with schema_context(alpha.schema_name):
        media = _video_with_tracks(model, [(0, 5), (1, 4)], [vector, vector])
        groups = selectors.track_groups(tracks=list(media.tracks.all()), duration_s=5)
    assert len(groups) == 2 and groups[0].lane != groups[1].lane


def test_the_media_page_draws_lanes_an_axis_and_times_to_a_tenth(alpha, model):
    rng = np.random.default_rng(2)
    with schema_context(alpha.schema_name):
        media = _video_with_tracks(
            model, [(0.8, 1.3), (3.8, 7.9)], [np.ones(128), np.ones(128) + 0.01 * rng.random(128)]
        )
    page = alpha.client(alpha.viewer).get(f"/library/{media.pk}/").content.decode()
    assert page.count('class="lane"') == 1 and page.count('class="track"') == 2
    dash = "\N{EN DASH}"
    assert f"0.8{dash}1.3 s" in page and f"3.8{dash}7.9 s" in page and "data-axis" in page
    assert "data-playhead" in page and 'class="join"' in page
    assert "2 tracks, the same face" in page


@pytest.fixture
def hamilton(alpha):
    with schema_context(alpha.schema_name):
        job = services.job_create(source=Source.WEB)
        media = services.media_accept(
            stream=io.BytesIO(video_path(HAMILTON).read_bytes()), name=HAMILTON,
            source=Source.WEB, job=job,
        ).media  # fmt: skip
    from tenants.tasks import run_tenant_task

    run_tenant_task(alpha.schema_name, "media_ingest.tasks.process_media", media.pk)
    return media


def test_the_hamilton_clips_two_tracks_of_one_man_are_joined(alpha, hamilton):
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=hamilton.pk)
        tracks = list(media.tracks.all())
        groups = [
            g.tracks for g in selectors.track_groups(tracks=tracks, duration_s=media.duration_s)
        ]
    spans = [[(round(t.first_time_s, 1), round(t.last_time_s, 1)) for t in g] for g in groups]
    joined = [s for s in spans if len(s) > 1]
    assert len(groups) < len(tracks), spans
    assert any(s[0][0] == pytest.approx(0.8, abs=0.3) and s[1][0] >= 3 for s in joined), spans
