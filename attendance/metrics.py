"""Attendance's metrics: frames answered, and what became of their faces
(marked, cooldown, not a member of the kiosk's groups, unknown)."""

from __future__ import annotations

from prometheus_client import Counter

from tenants.metrics import tenant_labels, with_tenant

KIOSK_FRAMES = Counter(
    "facet_kiosk_frames",
    "Camera frames a kiosk sent that were identified.",
    [*tenant_labels()],
)
KIOSK_FACES = Counter(
    "facet_kiosk_faces",
    "Faces in kiosk frames, by outcome (marked, cooldown, not-member, unknown).",
    ["outcome"],
)


def frame_answered(result) -> None:
    with_tenant(KIOSK_FRAMES).inc()
    for mark in result.marks:
        KIOSK_FACES.labels(outcome=mark.status).inc()
    if result.unknown:
        KIOSK_FACES.labels(outcome="unknown").inc(result.unknown)
