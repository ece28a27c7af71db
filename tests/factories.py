"""Catalogue rows for tests that need faces without running an engine.

Call inside a tenant's schema context.
"""

from __future__ import annotations

import itertools

from media_ingest.models import Face, MediaFile

_serial = itertools.count(1)


def media_file(**fields) -> MediaFile:
    n = next(_serial)
    values = {
        "kind": "image",
        "source": "web",
        "original_name": f"m{n}.jpg",
        "file": f"originals/t/{n}.jpg",
        "sha256": f"{n:064d}",
        "mime": "image/jpeg",
        "size_bytes": 1,
        "status": "done",
        **fields,
    }
    return MediaFile.objects.create(**values)


def face(*, media: MediaFile, face_model, embedding, ordinal: int = 0, **fields) -> Face:
    """An unsaved Face (bulk_create them, or .save())."""
    values = {
        "box_left": 0,
        "box_top": 0,
        "box_right": 10,
        "box_bottom": 10,
        "landmarks": [],
        "quality": 0.9,
        "detector_score": 1.0,
        "crop": "crops/x.jpg",
        **fields,
    }
    return Face(media=media, ordinal=ordinal, face_model=face_model, embedding=embedding, **values)
