"""Processing guarantees: one set of faces per file, poison files set aside, video tracks."""

from __future__ import annotations

import io

import pytest
from django.db import IntegrityError, transaction
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import Face, FaceTrack, MediaFile, Source
from media_ingest.processing import process_media_file
from tenants.tasks import run_tenant_task

from .conftest import shared_file


def _accept(setup, name: str, data: bytes) -> int:
    with schema_context(setup.schema_name):
        job = services.job_create(source=Source.API)
        return services.media_accept(
            stream=io.BytesIO(data), name=name, source=Source.API, job=job
        ).media.pk


def _process(setup, media_id: int) -> str:
    return run_tenant_task(setup.schema_name, "media_ingest.tasks.process_media", media_id)


def test_processing_twice_yields_one_set_of_faces(alpha, astronaut_jpeg):
    media_id = _accept(alpha, "a.jpg", astronaut_jpeg)
    assert _process(alpha, media_id) == "done"
    assert _process(alpha, media_id) == "skipped"
    with schema_context(alpha.schema_name):
        # A redelivery while the first attempt looks unfinished (its worker presumed
        # dead after storing nothing, or everything): the new run replaces, never adds.
        MediaFile.objects.filter(pk=media_id).update(status=MediaFile.Status.PROCESSING)
        first_run_faces = MediaFile.objects.get(pk=media_id).face_count
        assert process_media_file(media_id) == "done"
        assert Face.objects.filter(media_id=media_id).count() == first_run_faces
        assert MediaFile.objects.get(pk=media_id).attempts == 2


def test_the_database_refuses_a_second_face_with_the_same_ordinal(alpha, astronaut_jpeg):
    media_id = _accept(alpha, "a.jpg", astronaut_jpeg)
    _process(alpha, media_id)
    with schema_context(alpha.schema_name):
        face = Face.objects.filter(media_id=media_id).first()
        face.pk = None
        with pytest.raises(IntegrityError), transaction.atomic():
            face.save()


def test_a_file_that_keeps_killing_workers_is_quarantined_and_others_flow(alpha, astronaut_jpeg):
    poison = _accept(alpha, "poison.jpg", astronaut_jpeg)
    healthy = _accept(alpha, "healthy.png", _png_of(astronaut_jpeg))
    with schema_context(alpha.schema_name):
        # Three deliveries that started and never finished (the worker died each time).
        MediaFile.objects.filter(pk=poison).update(attempts=3, status=MediaFile.Status.PROCESSING)
    assert _process(alpha, poison) == "skipped"
    assert _process(alpha, healthy) == "done"
    with schema_context(alpha.schema_name):
        quarantined = MediaFile.objects.get(pk=poison)
        assert quarantined.status == MediaFile.Status.FAILED
        assert quarantined.error_code == "quarantined"
        assert "set aside" in quarantined.error
        assert quarantined.job.failed_files == 1


def _png_of(jpeg: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, format="PNG")
    return out.getvalue()


def _png_with_damaged_pixels() -> bytes:
    """A complete PNG (signature, IHDR, IDAT, IEND) whose IDAT is not zlib data:
    only decoding the pixels can tell."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", bytes(range(256)) * 8)
        + chunk(b"IEND", b"")
    )


def test_pixels_damaged_in_a_complete_file_fail_it_in_the_worker_with_a_reason(alpha):
    """Upload validation reads structure and headers only; the worker's one
    decode finds the damage and says so, and the worker carries on."""
    media_id = _accept(alpha, "damaged.png", _png_with_damaged_pixels())
    assert _process(alpha, media_id) == "failed"
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=media_id)
        assert media.status == MediaFile.Status.FAILED
        assert media.error_code == "undecodable"
        assert media.error.startswith("The image's pixel data is damaged")
        assert "upload the new file" in media.error


def test_video_faces_become_tracks_not_per_frame_duplicates(alpha):
    clip = shared_file("videos", "facerec_short_hamilton_clip.mp4").read_bytes()
    media_id = _accept(alpha, "hamilton.mp4", clip)
    assert _process(alpha, media_id) == "done"
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=media_id)
        assert media.duration_s == pytest.approx(10, abs=1.5)
        assert (media.width, media.height) == (640, 360)
        tracks = list(FaceTrack.objects.filter(media=media))
        frames_with_faces = sum(track.frame_count for track in tracks)
        assert 1 <= len(tracks) <= 6
        assert frames_with_faces >= 2 * len(tracks)  # tracks gather many frames each
        longest = max(tracks, key=lambda t: t.frame_count)
        assert longest.last_time_s - longest.first_time_s >= 3
        assert media.face_count == len(tracks)
        for track in tracks:
            face = track.best_face
            assert track.first_time_s <= face.frame_time_s <= track.last_time_s


def test_crops_are_saved_under_the_tenants_own_prefix(alpha, astronaut_jpeg):
    from django.conf import settings

    media_id = _accept(alpha, "a.jpg", astronaut_jpeg)
    _process(alpha, media_id)
    with schema_context(alpha.schema_name):
        face = Face.objects.filter(media_id=media_id).first()
        from django.core.files.storage import default_storage

        path = default_storage.path(face.crop.name)
        original = default_storage.path(MediaFile.objects.get(pk=media_id).file.name)
    for item in (path, original):
        assert item.startswith(f"{settings.MEDIA_ROOT}/{alpha.schema_name}/")


def test_originals_get_a_server_generated_name_from_their_content(alpha, astronaut_jpeg):
    import hashlib

    media_id = _accept(alpha, "../../My Holiday.JPG", astronaut_jpeg)
    digest = hashlib.sha256(astronaut_jpeg).hexdigest()
    with schema_context(alpha.schema_name):
        media = MediaFile.objects.get(pk=media_id)
    assert media.file.name == f"originals/{digest[:2]}/{digest}.jpg"
    assert media.original_name == "My Holiday.JPG"


@pytest.mark.parametrize("delay_s", [0.0, 0.5], ids=["at-start", "mid-analysis"])
def test_a_file_deleted_while_processing_leaves_nothing_behind(committed, settings, delay_s):
    """Deletion wins over a running task: the task stores nothing for a row that is
    gone, and no thumbnail or crop of the file remains on disk or is served."""
    import threading
    import time
    from pathlib import Path

    from django.conf import settings
    from django.db import connection

    from tests.conftest import ALPHA

    from .conftest import video_path

    # Five frames a second: the analysis lasts seconds even with the engine
    # warm (at two, a warm worker had finished the clip within 1.5 s).
    settings.INGEST = {**settings.INGEST, "VIDEO_SAMPLE_FPS": 5.0}
    media_id = _accept(ALPHA, "clip.mp4", video_path().read_bytes())
    outcome = {}

    def work() -> None:
        with schema_context(ALPHA.schema_name):
            outcome["result"] = process_media_file(media_id)
        connection.close()

    worker = threading.Thread(target=work)
    try:
        worker.start()
        deadline = time.monotonic() + 60
        with schema_context(ALPHA.schema_name):
            while MediaFile.objects.get(pk=media_id).status != MediaFile.Status.PROCESSING:
                assert time.monotonic() < deadline, "processing never started"
                time.sleep(0.01)
            time.sleep(delay_s)  # the video's first frames are analysed by then
            services.media_delete(media=MediaFile.objects.get(pk=media_id))
        worker.join(timeout=120)
        assert outcome["result"] == "skipped"
        tenant_media = Path(settings.MEDIA_ROOT) / ALPHA.schema_name
        assert not (tenant_media / "thumbs" / f"{media_id}.jpg").exists()
        assert not (tenant_media / "faces" / str(media_id)).exists()
        response = ALPHA.client(ALPHA.owner).get(f"/media/thumbs/{media_id}.jpg")
        assert response.status_code == 404
        with schema_context(ALPHA.schema_name):
            assert not Face.objects.filter(media_id=media_id).exists()
    finally:
        worker.join(timeout=120)
        with schema_context(ALPHA.schema_name):
            from media_ingest.models import IngestJob

            IngestJob.objects.all().delete()
            MediaFile.objects.all().delete()
