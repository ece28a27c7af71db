"""Hand-made embeddings and the rows that hold them, for search tests."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from django.utils import timezone

from tests import factories

DIM = 128


def unit(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def axis(i: int) -> np.ndarray:
    v = np.zeros(DIM, np.float32)
    v[i] = 1.0
    return v


def towards(similarity: float, base: int = 0, other: int = 1) -> np.ndarray:
    """A unit vector whose cosine with axis(base) is ``similarity``."""
    return unit(similarity * axis(base) + np.sqrt(1 - similarity**2) * axis(other))


def make_media(*, kind="image", source="web", days_ago=0):
    from media_ingest.models import MediaFile

    media = factories.media_file(kind=kind, source=source)
    if days_ago:
        MediaFile.objects.filter(pk=media.pk).update(
            created_at=timezone.now() - timedelta(days=days_ago)
        )
    return media


def make_faces(media, vectors, model):
    from media_ingest.models import Face

    return Face.objects.bulk_create(
        factories.face(media=media, face_model=model, embedding=vector, ordinal=i)
        for i, vector in enumerate(vectors)
    )
