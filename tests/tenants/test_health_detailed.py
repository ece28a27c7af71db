"""/health/detailed and /health/models: JSON for operators, never on tenant hosts."""

from __future__ import annotations

import pytest
from django.test import Client


@pytest.mark.django_db
def test_detailed_health_reports_every_dependency_and_workers_down_as_degraded():
    response = Client(HTTP_HOST="10.0.0.7").get("/health/detailed")
    assert response.status_code == 200
    report = response.json()
    checks = report["checks"]
    assert set(checks) == {
        "database",
        "migrations",
        "queue",
        "cache",
        "model_files",
        "channel_layer",
        "media_storage",
    }
    for name in ("database", "migrations", "cache", "channel_layer", "media_storage"):
        assert checks[name]["ok"], (name, checks[name])
        assert checks[name]["latency_ms"] >= 0
    assert checks["media_storage"]["writable"] and checks["media_storage"]["free_bytes"] > 0
    assert checks["model_files"]["ok"] and checks["model_files"]["models"]
    # No worker runs beside the unit tests: reported, and the platform is degraded, not down.
    cluster = checks["queue"]["clusters"]["facet"]
    assert cluster["alive"] is False and cluster["workers"] == 0
    assert cluster["depth"] == 0
    assert report["status"] == "degraded"


@pytest.mark.django_db
def test_models_health_verifies_files_loads_and_names_the_tenants(alpha, beta):
    response = Client(HTTP_HOST="localhost").get("/health/models")
    assert response.status_code == 200
    models = response.json()["models"]
    dlib = next(m for m in models if m["engine"] == "dlib")
    assert dlib["files"] and all(f["present"] and f["sha256_ok"] for f in dlib["files"].values())
    assert dlib["loads"] is True
    assert dlib["provider"].startswith("dlib")
    assert {alpha.slug, beta.slug} <= set(dlib["tenants"])
    assert dlib["ok"] is True


@pytest.mark.django_db
def test_a_model_whose_file_changed_is_reported(settings):
    from recognition.models import FaceModel

    model = FaceModel.objects.get(engine="dlib", is_default=True)
    name = next(iter(model.weights))
    FaceModel.objects.filter(pk=model.pk).update(weights={**model.weights, name: "0" * 64})
    report = Client(HTTP_HOST="10.0.0.7").get("/health/models").json()
    entry = next(m for m in report["models"] if m["id"] == model.pk)
    assert entry["files"][name]["sha256_ok"] is False
    assert entry["ok"] is False and report["status"] == "degraded"


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/health/detailed", "/health/models"])
@pytest.mark.parametrize("host", ["alpha.localhost", "stranger.localhost"])
def test_detailed_health_is_never_served_on_tenant_or_unknown_hosts(path, host):
    response = Client(HTTP_HOST=host).get(path)
    assert response.status_code == 404
    assert b"checks" not in response.content and b"models" not in response.content
