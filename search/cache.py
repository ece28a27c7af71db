"""Search results are cached per tenant; any change to the tenant's faces
invalidates them all (a generation number is part of every key)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
from django.core.cache import cache

GENERATION_KEY = "search:generation"
RESULT_TTL = 10 * 60


def _generation() -> int:
    return cache.get_or_set(GENERATION_KEY, 1, None)


def faces_changed(**kwargs) -> None:
    """Signal receiver: the current tenant's catalogue changed."""
    try:
        cache.incr(GENERATION_KEY)
    except ValueError:  # not set yet: nothing was cached under an older generation
        cache.set(GENERATION_KEY, 1, None)


def result_key(*, face_model_id: int, embedding: np.ndarray, options: dict) -> str:
    """Keys are tenant-prefixed by the cache's key function (django_tenants make_key)."""
    digest = hashlib.sha256(np.asarray(embedding, dtype=np.float32).tobytes())
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return f"search:{_generation()}:{face_model_id}:{digest.hexdigest()}"


def get(key: str):
    return cache.get(key)


def put(key: str, value) -> None:
    cache.set(key, value, RESULT_TTL)
