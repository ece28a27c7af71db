from __future__ import annotations

import io
from datetime import timedelta

from django.db import connection
from django.utils import timezone
from django_q.models import OrmQ
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.maintenance import requeue_stuck_media
from media_ingest.models import MediaFile, Source
from tests.conftest import run_queued_tasks


def _stuck(setup, data: bytes, status: str, age: timedelta) -> int:
    with schema_context(setup.schema_name):
        job = services.job_create(source=Source.API)
        media = services.media_accept(
            stream=io.BytesIO(data), name="x.jpg", source=Source.API, job=job, queue=False
        ).media
        MediaFile.objects.filter(pk=media.pk).update(
            status=status, status_changed_at=timezone.now() - age
        )
        return media.pk


def test_lost_work_is_queued_again_and_finishes(
    alpha, django_capture_on_commit_callbacks, astronaut_jpeg
):
    from PIL import Image

    png = io.BytesIO()
    Image.open(io.BytesIO(astronaut_jpeg)).save(png, format="PNG")
    dead_worker = _stuck(alpha, astronaut_jpeg, "processing", timedelta(hours=1))
    lost_enqueue = _stuck(alpha, png.getvalue(), "queued", timedelta(hours=1))
    assert OrmQ.objects.count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert run_queued_tasks() == []  # nothing was queued for them
        requeued = _run_reconciler(alpha)
    assert requeued == 2
    run_queued_tasks()
    with schema_context(alpha.schema_name):
        for media_id in (dead_worker, lost_enqueue):
            assert MediaFile.objects.get(pk=media_id).status == "done"


def test_recent_or_finished_work_is_left_alone(
    alpha, django_capture_on_commit_callbacks, astronaut_jpeg
):
    _stuck(alpha, astronaut_jpeg, "processing", timedelta(seconds=5))
    with django_capture_on_commit_callbacks(execute=True):
        assert _run_reconciler(alpha) == 0
    assert OrmQ.objects.count() == 0


def _run_reconciler(setup) -> int:
    with schema_context(setup.schema_name):
        return requeue_stuck_media()


def test_every_tenant_schema_has_the_embedding_indexes(alpha, beta):
    for setup in (alpha, beta):
        with schema_context(setup.schema_name), connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = "
                "'media_ingest_face' AND indexdef LIKE '%%hnsw%%'",
                [setup.schema_name],
            )
            names = {row[0] for row in cursor.fetchall()}
            cursor.execute(
                "SELECT attstorage FROM pg_attribute WHERE attrelid = "
                "'media_ingest_face'::regclass AND attname = 'embedding'"
            )
            storage = cursor.fetchone()[0]
        assert names == {"face_embedding_128_hnsw", "face_embedding_512_hnsw"}
        assert storage == "p"  # PLAIN: kept inline, not TOASTed
