"""The catalogue's metrics: uploads, processing outcomes and times, faces, frames, batches."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from tenants.metrics import DURATION_BUCKETS, tenant_labels, with_tenant

FILES_UPLOADED = Counter(
    "facet_ingest_files_uploaded",
    "Files accepted into a library (new content only), by source (web, api, zip, watch).",
    ["source", *tenant_labels()],
)
FILES_PROCESSED = Counter(
    "facet_ingest_files_processed",
    "Files whose processing ended, by outcome (done, failed, quarantined).",
    ["outcome", *tenant_labels()],
)
PROCESSING_DURATION = Histogram(
    "facet_ingest_processing_duration_seconds",
    "Time to process one file in a worker, by kind (image, video).",
    ["kind"],
    buckets=DURATION_BUCKETS,
)
FACES_DETECTED = Counter("facet_ingest_faces_detected", "Faces stored from processed files.")
FACE_QUALITY = Histogram(
    "facet_ingest_face_quality",
    "Quality score (0 to 1) of each stored face.",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
)
VIDEO_FRAMES = Counter("facet_ingest_video_frames_decoded", "Video frames decoded and analysed.")
BATCH_SIZE = Histogram(
    "facet_ingest_batch_files",
    "Photos in one GPU worker batch (one recogniser call).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
BATCH_DURATION = Histogram(
    "facet_ingest_batch_duration_seconds",
    "Time to process one GPU worker batch of photos.",
    buckets=DURATION_BUCKETS,
)


def file_uploaded(source: str) -> None:
    with_tenant(FILES_UPLOADED, source=source).inc()


def file_processed(outcome: str) -> None:
    with_tenant(FILES_PROCESSED, outcome=outcome).inc()


def faces_stored(qualities) -> None:
    qualities = list(qualities)
    FACES_DETECTED.inc(len(qualities))
    for quality in qualities:
        FACE_QUALITY.observe(quality)
