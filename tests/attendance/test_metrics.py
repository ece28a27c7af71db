"""Kiosk frames move the frame and per-face outcome metrics."""

from __future__ import annotations

from django.test import Client

from tests.attendance.conftest import ALICE, STRANGER, kiosk_client, make_kiosk, photo, post_frame
from tests.metrics_text import value


def _metrics() -> str:
    return Client(HTTP_HOST="10.0.0.7").get("/metrics").content.decode()


def test_frames_count_marks_cooldowns_and_unknown_faces(alpha, enrolled):
    _, key = make_kiosk(alpha)
    kiosk = kiosk_client(alpha, key)
    before = _metrics()
    for frame in (photo(ALICE, 4), photo(ALICE, 5), photo(STRANGER, 1)):
        assert post_frame(kiosk, frame).status_code == 200
    after = _metrics()

    def moved(sample: str, **labels: str) -> float:
        return value(after, sample, **labels) - value(before, sample, **labels)

    assert moved("facet_kiosk_frames_total") == 3
    assert moved("facet_kiosk_faces_total", outcome="marked") == 1
    assert moved("facet_kiosk_faces_total", outcome="cooldown") == 1
    assert moved("facet_kiosk_faces_total", outcome="unknown") == 1
