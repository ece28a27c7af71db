"""Tenants on an ONNX model send work to the GPU cluster, photos grouped per task."""

from __future__ import annotations

import io

import pytest
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from django_tenants.utils import schema_context

from media_ingest import services
from media_ingest.models import Face, MediaFile, Source
from recognition import services as recognition_services
from tests.conftest import run_queued_tasks

from .conftest import shared_file


@pytest.fixture
def alpha_on_onnx(alpha, settings, tmp_path):
    settings.RECOGNITION = {"MODELS_DIR": tmp_path / "models"}
    settings.INGEST = {**settings.INGEST, "GPU_CLUSTER": "gpu", "GPU_BATCH_FILES": 2}
    pack = tmp_path / "pack"
    pack.mkdir()
    for name in ("scrfd_500m_bnkps.onnx", "mobilefacenet_128d_b_dynbatch.onnx"):
        (pack / name).symlink_to(shared_file("..", "..", "models", name))
    model = recognition_services.face_model_import(source=pack, name="small-pack")
    recognition_services.tenant_face_model_set(tenant=alpha.tenant, face_model=model)
    return model


def _payloads(cluster: str) -> list[dict]:
    queued = get_broker(cluster).get_connection().filter(key=cluster)
    return [SignedPackage.loads(payload) for payload in queued.values_list("payload", flat=True)]


def test_photos_go_to_the_gpu_cluster_in_groups_and_share_recogniser_calls(
    alpha_on_onnx, beta, django_capture_on_commit_callbacks, astronaut_jpeg
):
    names = ["Al_Gore", "Angela_Merkel", "Andre_Agassi"]
    files = [("astronaut.jpg", io.BytesIO(astronaut_jpeg))] + [
        (f"{n}.jpg", io.BytesIO(shared_file("identities", n, f"{n}_0001.jpg").read_bytes()))
        for n in names
    ]
    with schema_context("t_alpha"), django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(source=Source.API)
        services.media_accept_many(files=files, source=Source.API, job=job)
    gpu_tasks = _payloads("gpu")
    assert [task["args"][1] for task in gpu_tasks] == ["media_ingest.tasks.process_media_batch"] * 2
    assert sorted(len(task["args"][2]) for task in gpu_tasks) == [2, 2]
    assert _payloads("facet") == []  # nothing for the CPU cluster

    run_queued_tasks("gpu")
    with schema_context("t_alpha"):
        assert set(MediaFile.objects.values_list("status", flat=True)) == {"done"}
        assert set(Face.objects.values_list("face_model", flat=True)) == {alpha_on_onnx.pk}
        assert Face.objects.count() >= 4

    # A tenant still on dlib keeps using the CPU cluster, one task per file.
    with schema_context(beta.schema_name), django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(source=Source.API)
        services.media_accept_many(
            files=[("a.jpg", io.BytesIO(astronaut_jpeg))], source=Source.API, job=job
        )
    [cpu_task] = _payloads("facet")
    assert cpu_task["args"][1] == "media_ingest.tasks.process_media"
