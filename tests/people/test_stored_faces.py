"""A processed file's faces are named and placed by the worker that stored them,
and the sweep catches the files whose worker died before it could."""

from __future__ import annotations

import io
from datetime import timedelta

from django.utils import timezone
from django_q.models import OrmQ
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import Face, MediaFile, Source
from media_ingest.processing import process_media_file
from people.maintenance import (
    queue_unplaced_media,
    queue_unplaced_media_everywhere,
    unplaced_media_ids,
)
from people.models import ClusterFace
from tests.media_ingest.conftest import shared_path


def _group_photo(number: int = 0) -> bytes:
    return sorted(shared_path("data", "faces", "groups").glob("*.jpg"))[number].read_bytes()


def _accepted(data: bytes) -> MediaFile:
    job = services.job_create(source=Source.API)
    return services.media_accept(
        stream=io.BytesIO(data), name="group.jpg", source=Source.API, job=job, queue=False
    ).media


def _placed(media: MediaFile) -> set[int]:
    return set(ClusterFace.objects.filter(face__media=media).values_list("face_id", flat=True))


def test_the_worker_places_a_files_faces_without_a_second_task(
    alpha, django_capture_on_commit_callbacks
):
    with schema_context(alpha.schema_name):
        media = _accepted(_group_photo())
        with django_capture_on_commit_callbacks(execute=True):
            assert process_media_file(media.pk) == "done"
        faces = set(Face.objects.filter(media=media).values_list("pk", flat=True))
        assert len(faces) == 7
        assert _placed(media) == faces  # all seven are sharp enough for discovery
    assert not OrmQ.objects.exists()


def test_the_sweep_places_the_faces_of_a_worker_that_died_after_storing_them(
    alpha, beta, processing
):
    """Each tenant's sweep queues its own files, in its own schema."""
    left = {}
    for setup, number in ((alpha, 0), (beta, 1)):
        with schema_context(setup.schema_name):
            media = _accepted(_group_photo(number))
            # The on-commit work never runs: the worker died right after the commit.
            assert process_media_file(media.pk) == "done"
            assert _placed(media) == set()
            assert unplaced_media_ids() == []  # its worker may still be at it
            MediaFile.objects.filter(pk=media.pk).update(
                processed_at=timezone.now() - timedelta(minutes=5)
            )
            assert unplaced_media_ids() == [media.pk]
            left[setup.schema_name] = media
    assert processing(queue_unplaced_media_everywhere) == 2  # one task per tenant
    for schema_name, media in left.items():
        with schema_context(schema_name):
            faces = set(Face.objects.filter(media=media).values_list("pk", flat=True))
            assert faces and _placed(media) == faces
            assert unplaced_media_ids() == []


def test_the_sweep_reads_only_the_last_day(alpha):
    with schema_context(alpha.schema_name):
        old = _accepted(_group_photo(1))
        assert process_media_file(old.pk) == "done"
        MediaFile.objects.filter(pk=old.pk).update(processed_at=timezone.now() - timedelta(days=7))
        assert unplaced_media_ids() == []
        assert queue_unplaced_media() == 0
