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
    # Decoded images larger than this are refused before decoding.
    "MAX_IMAGE_PIXELS": 40_000_000,
}


def recognition_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown RECOGNITION setting {name!r}")
    value = getattr(settings, "RECOGNITION", {}).get(name, DEFAULTS[name])
    if name == "MODELS_DIR" and value is None:
        value = Path(settings.VAR_DIR) / "models"
    return value
