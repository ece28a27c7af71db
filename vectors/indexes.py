"""The partial HNSW indexes over a registered table's embeddings, one per
indexed embedding size, described once for the query (``vectors.query``),
the index maintenance below (``manage.py face_index``), migrations, the
search benchmark and the tests.

* 128-D (dlib): the embedding itself, ``vector(128)``.
* 512-D (InsightFace packs): a *sketch*, the first 128 coordinates as
  ``halfvec(128)``. The graph then has the navigability of a 128-D one: over
  the full 512 coordinates, HNSW (m 16) lost match recall with size (0.997
  at 200k, 0.971 at 500k at ef_search 400, 0.88 at 1M in issue 5), and the
  build cost ~2.2x more. ``vectors.query`` takes a shortlist from the sketch
  and re-ranks it on the full float32 embedding, so similarities are exact.
  Which 128 coordinates: engines emit wide embeddings in a random
  orthonormal basis (``recognition.engines.basis``), where the sketch is a
  random projection whose cosine strays +-0.09 from the full one; that noise
  let near-threshold matches fall out of a *filtered* query's shortlist when
  impostors were close (1M correlated faces, filter keeping 10%: match
  recall 0.865). So each tenant's embeddings are rotated into a basis fitted
  to them, principal axes first (``vectors.basis``), and the sketch keeps
  most of their energy (docs/benchmarks.md).

Bulk loads: inserting into a live HNSW index runs at a few hundred rows/s per
connection (issue 5), building it afterwards at ~1,500 rows/s on 2 cores with
the graph in memory (docs/benchmarks.md: 1M faces in ~11 minutes, COPY
included). So before a very large import, drop the tenant's index and build
it when the rows are in (``index_drop`` / ``index_build``); searches keep
working meanwhile, by a sequential scan.

Call everything here inside the tenant's schema.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from django.db import connection, transaction

from .tables import EmbeddingTable


@dataclass(frozen=True)
class IndexKind:
    """How embeddings of one size are indexed."""

    dimension: int
    # SQL of the indexed value, with {v} standing for the embedding (a column
    # in searches, the query's `%s::vector` literal beside it).
    expression: str
    opclass: str

    def indexed_value(self, v: str) -> str:
        return self.expression.format(v=v)


INDEX_KINDS = {
    128: IndexKind(128, "({v})::vector(128)", "vector_cosine_ops"),
    512: IndexKind(512, "subvector({v}, 1, 128)::halfvec(128)", "halfvec_cosine_ops"),
}
# Embedding sizes that have a partial HNSW index.
INDEXED_DIMENSIONS = tuple(INDEX_KINDS)


@dataclass(frozen=True)
class VectorIndex:
    table: EmbeddingTable
    kind: IndexKind

    @property
    def dimension(self) -> int:
        return self.kind.dimension

    @property
    def name(self) -> str:
        return f"{self.table.index_prefix}_embedding_{self.kind.dimension}_hnsw"

    @property
    def predicate(self) -> str:
        """The partial index's WHERE, which a query must repeat to be served by it."""
        return f"vector_dims({self.table.embedding_column}) = {self.kind.dimension}"

    def indexed_value(self, v: str) -> str:
        return self.kind.indexed_value(v)

    def create_sql(self, *, m: int = 16, ef_construction: int = 64) -> str:
        """CREATE INDEX statement (defaults as in the migrations: m 16, ef_construction 64)."""
        column = self.table.embedding_column
        return (
            f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table.table} "
            f"USING hnsw (({self.indexed_value(column)}) {self.kind.opclass}) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
            f"WHERE {self.predicate}"
        )


def vector_index(table: EmbeddingTable, dimension: int) -> VectorIndex:
    return VectorIndex(table, INDEX_KINDS[dimension])


def table_indexes(table: EmbeddingTable) -> list[VectorIndex]:
    return [VectorIndex(table, kind) for kind in INDEX_KINDS.values()]


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
    rows: int  # rows of this dimension in the table


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


def index_status(table: EmbeddingTable) -> list[IndexState]:
    """The current schema's indexes of ``table``: present, valid, size, rows covered."""
    states = []
    with connection.cursor() as cursor:
        for index in table_indexes(table):
            row = _index_row(cursor, index.name)
            cursor.execute(
                f"SELECT count(*) FROM {table.table} WHERE {index.predicate}"  # noqa: S608
            )
            states.append(
                IndexState(
                    dimension=index.dimension,
                    name=index.name,
                    exists=row is not None,
                    valid=bool(row and row[0]),
                    size_bytes=row[1] if row else 0,
                    rows=int(cursor.fetchone()[0]),
                )
            )
    return states


def index_drop(table: EmbeddingTable, dimension: int) -> bool:
    """Drop the current schema's index of ``table`` for ``dimension``; False if absent."""
    name = vector_index(table, dimension).name
    with connection.cursor() as cursor:
        existed = _index_row(cursor, name) is not None
        cursor.execute(f"DROP INDEX IF EXISTS {name}")
    return existed


def index_build(
    table: EmbeddingTable,
    dimension: int,
    *,
    m: int = 16,
    ef_construction: int = 64,
    maintenance_work_mem: str = DEFAULT_BUILD_MEMORY,
    parallel_workers: int | None = None,
    replace: bool = False,
) -> IndexBuild:
    """Build the current schema's index of ``table`` for ``dimension`` (m and
    ef_construction may differ from the migrations'). Writes to the table wait
    while it builds; reads do not. ``parallel_workers`` processes help the
    build (default: the server's max_parallel_maintenance_workers)."""
    index = vector_index(table, dimension)
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
