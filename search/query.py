"""Face similarity search over the tenant's catalogue, on the vector layer.

``similar_faces`` is ``vectors.query.nearest`` over the catalogue's face
table (``media_ingest.embeddings.FACE_TABLE``), narrowed by what the media
are: kind, source, when they were added. Call inside a tenant schema context.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np

from media_ingest.annotations import face_names
from media_ingest.embeddings import FACE_TABLE
from vectors import query as vector_query
from vectors.query import DEFAULT_OVERSAMPLE, MAX_TOP_K, Plan, RowFilter

__all__ = ["MAX_TOP_K", "Hit", "SearchFilters", "explain", "similar_faces"]


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the media a face comes from (``media_ingest_mediafile``)."""

    kinds: tuple[str, ...] = ()  # MediaFile.Kind values; empty = any
    sources: tuple[str, ...] = ()  # Source values (web, api, zip, watch); empty = any
    created_from: datetime | None = None  # media created_at >= this
    created_to: datetime | None = None  # media created_at < this
    person_id: int | None = None  # faces labelled as this person ("photos of them")

    @property
    def empty(self) -> bool:
        return not (
            self.kinds or self.sources or self.created_from or self.created_to or self.person_id
        )

    def row_filter(self) -> RowFilter:
        if self.empty:
            return vector_query.NO_FILTER
        conditions, params = [], []
        if self.person_id is not None:
            names = face_names()
            condition, values = names.face_condition_sql(self.person_id) if names else ("false", [])
            conditions.append(condition)
            params.extend(values)
        if self.kinds:
            conditions.append("m.kind = ANY(%s)")
            params.append(list(self.kinds))
        if self.sources:
            conditions.append("m.source = ANY(%s)")
            params.append(list(self.sources))
        if self.created_from is not None:
            conditions.append("m.created_at >= %s")
            params.append(self.created_from)
        if self.created_to is not None:
            conditions.append("m.created_at < %s")
            params.append(self.created_to)
        media_filters = self.kinds or self.sources or self.created_from or self.created_to
        return RowFilter(
            join="JOIN media_ingest_mediafile m ON m.id = f.media_id" if media_filters else "",
            conditions=tuple(conditions),
            params=tuple(params),
        )


@dataclass(frozen=True)
class Hit:
    face_id: int
    media_id: int
    track_id: int | None
    similarity: float


def _row_filter(filters: SearchFilters | None) -> RowFilter:
    return filters.row_filter() if filters is not None else vector_query.NO_FILTER


def similar_faces(
    *,
    embedding: np.ndarray,
    face_model_id: int,
    top_k: int = 20,
    threshold: float | None = None,
    filters: SearchFilters | None = None,
    plan: Plan = "auto",
    ef_search: int | None = None,
    oversample: int = DEFAULT_OVERSAMPLE,
    exact_max_rows: int | None = None,
) -> list[Hit]:
    """The ``top_k`` catalogue faces most similar (cosine) to ``embedding``, best first
    (see ``vectors.query.nearest``)."""
    neighbours = vector_query.nearest(
        table=FACE_TABLE,
        embedding=embedding,
        face_model_id=face_model_id,
        top_k=top_k,
        threshold=threshold,
        filters=_row_filter(filters),
        plan=plan,
        ef_search=ef_search,
        oversample=oversample,
        exact_max_rows=exact_max_rows,
    )
    return [Hit(n.id, int(n.carried[0]), n.carried[1], n.similarity) for n in neighbours]


def explain(
    *,
    embedding: np.ndarray,
    face_model_id: int,
    plan: Literal["index", "exact"] = "index",
    filters: SearchFilters | None = None,
    top_k: int = 10,
) -> str:
    """EXPLAIN of a catalogue search (to check that the partial HNSW index is used)."""
    return vector_query.explain(
        table=FACE_TABLE,
        embedding=embedding,
        face_model_id=face_model_id,
        plan=plan,
        filters=_row_filter(filters),
        top_k=top_k,
    )
