"""The tenant tables that hold embeddings, as the vector layer sees them.

Each feature app registers its table in ``AppConfig.ready()``; the indexes,
the nearest-neighbour query and the storage basis then work on it by name,
with no SQL of their own. Every registered table of a tenant holds its
embeddings in the same basis (``vectors.basis``), so an embedding copied from
one to another (a catalogue face enrolled for a person) stays comparable.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmbeddingTable:
    table: str  # e.g. "media_ingest_face"
    # Index names are "<index_prefix>_embedding_<dim>_hnsw".
    index_prefix: str
    # Columns a search returns beside the row id and the similarity.
    carried: tuple[str, ...] = ()
    embedding_column: str = "embedding"
    model_column: str = "face_model_id"


_registry: dict[str, EmbeddingTable] = {}


def register(table: EmbeddingTable) -> EmbeddingTable:
    existing = _registry.setdefault(table.table, table)
    if existing != table:
        raise ValueError(f"{table.table} is registered twice, differently")
    return table


def registered() -> list[EmbeddingTable]:
    return list(_registry.values())
