"""The RECOGNITION settings dict, read through one accessor with defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Engine kind of the built-in default model.
    "DEFAULT_ENGINE": "dlib",
    # Where imported model packs are copied (one folder per pack version).
    "MODELS_DIR": None,  # defaults to VAR_DIR / "models"
    # Photos sent to be searched for or identified are decoded in the web
    # process, during the request: a lower cap than uploads (INGEST), which
    # workers decode. 16 Mpx is what phones and most cameras save.
    "MAX_QUERY_PIXELS": 16_000_000,
    "MAX_QUERY_BYTES": 20 * 1024 * 1024,
}


def recognition_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown RECOGNITION setting {name!r}")
    value = getattr(settings, "RECOGNITION", {}).get(name, DEFAULTS[name])
    if name == "MODELS_DIR" and value is None:
        value = Path(settings.VAR_DIR) / "models"
    return value
