"""The INGEST settings dict, read through one accessor with defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

from recognition.imaging import DEFAULT_MAX_PIXELS

MB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "MAX_IMAGE_BYTES": 50 * MB,
    "MAX_VIDEO_BYTES": 2048 * MB,
    "MAX_IMAGE_PIXELS": DEFAULT_MAX_PIXELS,
    "VIDEO_SAMPLE_FPS": 2.0,
    "VIDEO_MAX_FRAMES": 3600,
    "VIDEO_MAX_SIDE": 1280,
    "VIDEO_TIMEOUT_S": 900,
    "VIDEO_MEMORY_MB": 2048,
    # Frames analysed per engine call (detection per frame, one recogniser batch).
    "VIDEO_BATCH_FRAMES": 8,
    "ZIP_MAX_ENTRIES": 5000,
    "ZIP_MAX_TOTAL_BYTES": 8192 * MB,
    "ZIP_MAX_RATIO": 100,
    # A file whose processing was started this many times without finishing
    # (worker killed by OOM or a crash) is failed instead of retried forever.
    "MAX_ATTEMPTS": 3,
    "CROP_SIDE": 160,
    "WATCH_DIR": None,  # defaults to VAR_DIR / "watch"
    "WATCH_INTERVAL_S": 2.0,
    # django-q2 cluster for embedding work of tenants on an ONNX model (GPU
    # workers run `Q_CLUSTER_NAME=<this> manage.py qcluster`); empty: default cluster.
    "GPU_CLUSTER": "",
    # Photos per GPU task: their faces are embedded in one recogniser call.
    "GPU_BATCH_FILES": 16,
}


def ingest_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown INGEST setting {name!r}")
    value = getattr(settings, "INGEST", {}).get(name, DEFAULTS[name])
    if name == "WATCH_DIR" and value is None:
        value = Path(settings.VAR_DIR) / "watch"
    return value


def largest_upload_bytes() -> int:
    """The largest single file any upload route accepts (the web server's body cap)."""
    return max(ingest_setting("MAX_IMAGE_BYTES"), ingest_setting("MAX_VIDEO_BYTES"))
