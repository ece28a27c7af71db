"""Processing a file moves the ingest, engine and task metrics that /metrics shows."""

from __future__ import annotations

import io

from django.test import Client
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import MediaFile, Source
from tenants.tasks import run_tenant_task
from tests.metrics_text import families, value

TASK = "media_ingest.tasks.process_media"


def _metrics() -> str:
    response = Client(HTTP_HOST="10.0.0.7").get("/metrics")
    assert response.status_code == 200
    return response.content.decode()


def test_a_processed_upload_moves_the_ingest_engine_and_task_metrics(alpha, astronaut_jpeg):
    before = _metrics()
    with schema_context(alpha.schema_name):
        job = services.job_create(source=Source.API)
        media_id = services.media_accept(
            stream=io.BytesIO(astronaut_jpeg), name="a.jpg", source=Source.API, job=job
        ).media.pk
    assert run_tenant_task(alpha.schema_name, TASK, media_id) == "done"
    with schema_context(alpha.schema_name):
        faces = MediaFile.objects.get(pk=media_id).face_count
    assert faces >= 1
    after = _metrics()

    def moved(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert moved("facet_ingest_files_uploaded_total", source="api") == 1
    assert moved("facet_ingest_files_processed_total", outcome="done") == 1
    assert moved("facet_ingest_faces_detected_total") == faces
    assert moved("facet_ingest_face_quality_count") == faces
    assert moved("facet_ingest_processing_duration_seconds_count", kind="image") == 1
    assert moved("facet_tasks_total", task=TASK, outcome="ok") == 1
    assert moved("facet_task_duration_seconds_count", task=TASK) == 1
    assert moved("facet_inference_duration_seconds_count", engine="dlib", stage="detect") >= 1
    assert moved("facet_inference_duration_seconds_count", engine="dlib", stage="embed") >= 1
    assert value(after, "facet_engine_provider_info", engine="dlib") >= 1

    facet = sorted(name for name in families(after) if name.startswith("facet_"))
    assert len(facet) >= 15, facet


def test_a_quarantined_file_is_counted_as_such(alpha, astronaut_jpeg):
    with schema_context(alpha.schema_name):
        job = services.job_create(source=Source.API)
        media_id = services.media_accept(
            stream=io.BytesIO(_png(astronaut_jpeg)),
            name="p.png",
            source=Source.API,
            job=job,
        ).media.pk
        MediaFile.objects.filter(pk=media_id).update(attempts=3, status=MediaFile.Status.PROCESSING)
    before = value(_metrics(), "facet_ingest_files_processed_total", outcome="quarantined")
    assert run_tenant_task(alpha.schema_name, TASK, media_id) == "skipped"
    after = value(_metrics(), "facet_ingest_files_processed_total", outcome="quarantined")
    assert after - before == 1


def _png(jpeg: bytes) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, format="PNG")
    return out.getvalue()
