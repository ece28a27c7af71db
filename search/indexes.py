"""The partial HNSW indexes over ``media_ingest_face.embedding``, one per
indexed embedding size, described once for the query builder, the index
maintenance below (``manage.py face_index``), the search benchmark and the
tests. Migrations hold frozen copies of the DDL; tests check that searches
are served by the migrated indexes (EXPLAIN).

* 128-D (dlib): the embedding itself, ``vector(128)``.
* 512-D (InsightFace packs): a *sketch*, the first 128 coordinates as
  ``halfvec(128)``. The graph then has the navigability of a 128-D one: over
  the full 512 coordinates, HNSW (m 16) lost match recall with size (0.997
  at 200k, 0.971 at 500k at ef_search 400, 0.88 at 1M in issue 5), and the
  build cost ~2.2x more. ``search.query`` takes a shortlist from the sketch
  and re-ranks it on the full float32 embedding, so similarities are exact.
  Which 128 coordinates: engines emit wide embeddings in a random
  orthonormal basis (``recognition.engines.basis``), where the sketch is a
  random projection whose cosine strays +-0.09 from the full one; that noise
  let near-threshold matches fall out of a *filtered* query's shortlist when
  impostors were close (1M correlated faces, filter keeping 10%: match
  recall 0.865). So each tenant's faces are rotated into a basis fitted to
  them, principal axes first (``media_ingest.embedding_basis``; fitted by
  ``search.maintenance`` at 10k faces, or ``sketch_fit`` below), and the
  sketch keeps most of their energy (docs/benchmarks.md).

Bulk loads: inserting into a live HNSW index runs at a few hundred rows/s per
connection (issue 5), building it afterwards at ~1,500 rows/s on 2 cores with
the graph in memory (docs/benchmarks.md: 1M faces in ~11 minutes, COPY
included). So before a very large import, drop the tenant's index and build
it when the rows are in (``index_drop`` / ``index_build``); searches keep
working meanwhile, by a sequential scan.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.db import connection, transaction

from media_ingest.embedding_basis import BasisFit, basis_fit

from . import cache


@dataclass(frozen=True)
class FaceIndex:
    dimension: int
    # SQL of the indexed value, with {v} standing for the embedding (the column
    # `f.embedding` in searches, the query's `%s::vector` literal beside it).
    expression: str
    opclass: str

    @property
    def name(self) -> str:
        return f"face_embedding_{self.dimension}_hnsw"

    def indexed_value(self, v: str) -> str:
        return self.expression.format(v=v)

    def create_sql(self, *, m: int = 16, ef_construction: int = 64) -> str:
        """CREATE INDEX statement (the migrations' defaults: m 16, ef_construction 64)."""
        return (
            f"CREATE INDEX IF NOT EXISTS {self.name} ON media_ingest_face "
            f"USING hnsw (({self.indexed_value('embedding')}) {self.opclass}) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
            f"WHERE vector_dims(embedding) = {self.dimension}"
        )


FACE_INDEXES = {
    128: FaceIndex(128, "({v})::vector(128)", "vector_cosine_ops"),
    512: FaceIndex(512, "subvector({v}, 1, 128)::halfvec(128)", "halfvec_cosine_ops"),
}


# Enough for a 1M-face graph to build in memory (the bench used 4GB for both
# index kinds; beyond memory pgvector builds on disk, several times slower).
DEFAULT_BUILD_MEMORY = "2GB"


@dataclass(frozen=True)
class IndexState:
    dimension: int
    name: str
    exists: bool
    valid: bool
    size_bytes: int
    rows: int  # faces of this dimension in the table


@dataclass(frozen=True)
class IndexBuild:
    name: str
    seconds: float
    size_bytes: int
    created: bool  # False when it existed already and replace was not asked


def _index_row(cursor, name: str) -> tuple[bool, int] | None:
    """(valid, size in bytes) of index ``name`` in the current schema, or None."""
    cursor.execute(
        "SELECT i.indisvalid, pg_relation_size(c.oid) FROM pg_class c "
        "JOIN pg_index i ON i.indexrelid = c.oid "
        "WHERE c.relname = %s AND c.relnamespace = current_schema()::regnamespace",
        [name],
    )
    row = cursor.fetchone()
    return (bool(row[0]), int(row[1])) if row else None


def index_status() -> list[IndexState]:
    """The current schema's face indexes: present, valid, size, rows covered."""
    states = []
    with connection.cursor() as cursor:
        for dimension, index in FACE_INDEXES.items():
            row = _index_row(cursor, index.name)
            cursor.execute(
                "SELECT count(*) FROM media_ingest_face WHERE vector_dims(embedding) = %s",
                [dimension],
            )
            states.append(
                IndexState(
                    dimension=dimension,
                    name=index.name,
                    exists=row is not None,
                    valid=bool(row and row[0]),
                    size_bytes=row[1] if row else 0,
                    rows=int(cursor.fetchone()[0]),
                )
            )
    return states


def index_drop(dimension: int) -> bool:
    """Drop the current schema's index for ``dimension``; False if it was absent."""
    name = FACE_INDEXES[dimension].name
    with connection.cursor() as cursor:
        existed = _index_row(cursor, name) is not None
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
    return existed


def index_build(
    dimension: int,
    *,
    m: int = 16,
    ef_construction: int = 64,
    maintenance_work_mem: str = DEFAULT_BUILD_MEMORY,
    parallel_workers: int | None = None,
    replace: bool = False,
) -> IndexBuild:
    """Build the current schema's index for ``dimension`` (the migrations'
    definition; m and ef_construction may differ). Writes to the face table
    wait while it builds; reads do not. ``parallel_workers`` processes help
    the build (default: the server's max_parallel_maintenance_workers)."""
    index = FACE_INDEXES[dimension]
    if not 2 <= m <= 100 or not 4 <= ef_construction <= 1000:
        raise ValueError("m must be 2..100 and ef_construction 4..1000 (pgvector's limits)")
    if not re.fullmatch(r"\d+\s*(kB|MB|GB|TB)?", maintenance_work_mem):
        raise ValueError(f"memory {maintenance_work_mem!r}: use a size such as 512MB or 2GB")
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        # set_config(..., true) = SET LOCAL: the build's settings end with it.
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, true)", [maintenance_work_mem]
        )
        if parallel_workers is not None:
            cursor.execute(
                "SELECT set_config('max_parallel_maintenance_workers', %s, true)",
                [str(int(parallel_workers))],
            )
        if replace:
            cursor.execute(f"DROP INDEX IF EXISTS {index.name}")
        existed = _index_row(cursor, index.name) is not None
        if not existed:
            # Rows written earlier in a caller's transaction leave deferred
            # foreign-key checks pending, and CREATE INDEX refuses to run then:
            # check them now. Django declares its foreign keys DEFERRABLE
            # INITIALLY DEFERRED, which the statement after the build restores.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(index.create_sql(m=m, ef_construction=ef_construction))
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        _, size = _index_row(cursor, index.name)
    return IndexBuild(
        name=index.name,
        seconds=time.perf_counter() - started,
        size_bytes=size,
        created=not existed,
    )


@dataclass(frozen=True)
class SketchFit:
    fit: BasisFit | None  # None: the model has no faces in this tenant
    build: IndexBuild


def sketch_fit(
    *,
    face_model_id: int,
    dimension: int,
    maintenance_work_mem: str = DEFAULT_BUILD_MEMORY,
    compact: bool = False,
) -> SketchFit:
    """Fit the current schema's basis for a wide model to its faces
    (``media_ingest.embedding_basis``) and rebuild the sketch index over the
    rewritten rows. The index is dropped first: rewriting rows under a live
    HNSW index would insert each into the graph (a few hundred rows/s).
    Searches keep working meanwhile (by a scan while the index is missing).

    Each rewritten row leaves its old version behind: a VACUUM makes that
    space reusable, but the table keeps its doubled size, which slows scans
    of a large tenant; ``compact`` rewrites it instead (VACUUM FULL), during
    which the tenant's searches and uploads wait."""
    index_drop(dimension)
    try:
        fit = basis_fit(face_model_id=face_model_id, dimension=dimension)
        # VACUUM cannot run inside a caller's transaction: autovacuum's turn then.
        if fit is not None and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                options = "FULL, ANALYZE" if compact else "ANALYZE"
                cursor.execute(f"VACUUM ({options}) media_ingest_face")
    finally:
        build = index_build(dimension, maintenance_work_mem=maintenance_work_mem)
    # The stored embeddings changed: cached results hold similarities of old queries.
    cache.faces_changed()
    return SketchFit(fit=fit, build=build)
