"""Identify moves its request, duration and per-face result metrics."""

from __future__ import annotations

from django.test import Client

from tests.media_ingest.conftest import shared_file
from tests.metrics_text import value
from tests.people.conftest import upload


def _metrics() -> str:
    return Client(HTTP_HOST="10.0.0.7").get("/metrics").content.decode()


def test_identify_counts_requests_duration_and_unknown_faces(api):
    before = _metrics()
    photo = shared_file("groups", "facerec_obama_and_biden.jpg").read_bytes()
    response = api.post("/api/v1/identify/", {"photo": upload(photo)})
    assert response.status_code == 200
    faces = len(response.json()["faces"])
    after = _metrics()

    def moved(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert moved("facet_identify_requests_total") == 1
    assert moved("facet_identify_duration_seconds_count") == 1
    # Nobody is enrolled: every face is unknown.
    assert moved("facet_identify_faces_total", result="unknown") == faces >= 2
    assert moved("facet_identify_faces_total", result="known") == 0
