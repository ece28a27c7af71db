"""Photos decoded during a request (a search, an identification): checked as
an upload is (type, polyglot, decompression bomb, truncation), within the
request-time limits (RECOGNITION["MAX_QUERY_PIXELS"], ["MAX_QUERY_BYTES"])."""

from __future__ import annotations

import shutil
import tempfile
from typing import BinaryIO

import numpy as np

from recognition.conf import recognition_setting
from tenants.errors import ServiceError

from .validation import load_validated_image

# Multipart framing around the photo itself.
_FORM_OVERHEAD = 64 * 1024


def refuse_oversized_request(request) -> None:
    """413 from Content-Length alone, before the body is parsed."""
    limit = recognition_setting("MAX_QUERY_BYTES") + _FORM_OVERHEAD
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length > limit:
        raise ServiceError(
            f"The photo is larger than the {limit // (1024 * 1024)} MB this takes.",
            "too-large",
            http_status=413,
        )


def request_photo_pixels(photo: BinaryIO) -> np.ndarray:
    """The photo's RGB pixels; raises MediaRejected (a ServiceError) with the reason."""
    with tempfile.NamedTemporaryFile(prefix="facet-query-") as spooled:
        shutil.copyfileobj(photo, spooled, 1024 * 1024)
        spooled.flush()
        _info, image = load_validated_image(
            spooled.name,
            max_bytes=recognition_setting("MAX_QUERY_BYTES"),
            max_pixels=recognition_setting("MAX_QUERY_PIXELS"),
        )
    return image
