"""Nearest neighbours by cosine over a registered embedding table.

Call inside a tenant schema context: every query reads the current schema's
table only, so one tenant's rows can never reach another's results.

Two plans, chosen per query from the planner's row estimate:

* **index** (most queries): the partial HNSW index of the embedding's
  dimension (``vectors.indexes``: the 128-D embedding itself, or a 128-D
  sketch of a 512-D one). The query repeats the index's expression and
  predicate word for word, or PostgreSQL cannot use the index.
  ``hnsw.ef_search`` is set per query (``set_config(..., true)`` = SET LOCAL)
  and ``hnsw.iterative_scan = relaxed_order`` keeps the scan going when the
  model or the filters reject candidates, so filtered queries still return
  ``top_k`` rows. An over-fetched candidate set (``oversample`` x ``top_k``)
  is re-ranked exactly on the full embedding: relaxed order and sketches
  return neighbours out of order.
* **exact**: when the model and filters leave few rows (``exact_max_rows``),
  a sequential/B-tree scan of those rows with exact cosine is both faster and
  exact; the HNSW path would visit many rejected graph nodes.

Callers narrow the rows with a ``RowFilter``: a join and conditions on the
table (aliased ``f``), with their parameters (the catalogue's search joins
the media; identification could exclude people).
"""

from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from django.db import connection, transaction

from . import metrics
from .indexes import INDEXED_DIMENSIONS, vector_index
from .tables import EmbeddingTable

# ef_search per dimension (docs/benchmarks.md, "Face search (issue 5)"), from
# 1M random-centre faces on 2 cores. 128: ef 100 gave match recall 0.967 at p95
# 10.9 ms (ef 200: 0.979, 15.5 ms). 512 (sketch): ef 200 gave 0.982 at p95
# 18 ms (ef 100: 0.959, 13.4 ms).
DEFAULT_EF_SEARCH = {128: 100, 512: 200}
# Candidates fetched from the index per result wanted, then re-ranked exactly.
# At 1M x 512 (sketch index) 4 and 8 gave the same match recall, and 8 cost
# filtered queries 1.7x (p95 65 vs 39 ms): the matches lead the sketch's order.
DEFAULT_OVERSAMPLE = 4
# At or below this many rows (planner estimate of the model's rows left by the
# filters) the exact scan wins. A filtered HNSW scan costs about 1/selectivity
# (1M faces: ~35 ms keeping 10% of them, ~300 ms keeping 0.8%), the exact scan
# about the rows it reads (~3 us a row): they cross near 10k rows at 1M.
DEFAULT_EXACT_MAX_ROWS = 10_000
# Iterative scans stop after this many visited tuples (pgvector default 20000):
# enough for a filter keeping ~1 row in 100 of a million.
MAX_SCAN_TUPLES = 100_000
MAX_TOP_K = 200

Plan = Literal["auto", "index", "exact"]


@dataclass(frozen=True)
class RowFilter:
    """Extra restrictions on the searched rows (the table is aliased ``f``)."""

    join: str = ""
    conditions: tuple[str, ...] = ()
    params: tuple = ()

    @property
    def where(self) -> str:
        return "".join(f" AND {c}" for c in self.conditions)


NO_FILTER = RowFilter()


@dataclass(frozen=True)
class Neighbour:
    id: int
    similarity: float
    carried: tuple = field(default=())  # the table's carried columns, in order


def vector_literal(embedding: np.ndarray) -> str:
    """pgvector's text form, '[x,y,...]', with float32 precision."""
    return json.dumps(np.asarray(embedding, dtype=np.float32).tolist(), separators=(",", ":"))


def estimate_rows(*, table: EmbeddingTable, face_model_id: int, filters: RowFilter) -> int:
    """The planner's estimate of the rows the search would consider (one EXPLAIN, ~1 ms)."""
    sql = (
        # Only fixed fragments are formatted in; values are parameters. No
        # `vector_dims(embedding) = D` here: PostgreSQL has no statistics on that
        # expression and guesses 0.5% of the table; a model has one dimension anyway.
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {table.table} f {filters.join} "  # noqa: S608
        f"WHERE f.{table.model_column} = %s{filters.where}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [face_model_id, *filters.params])
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def choose_plan(
    *,
    table: EmbeddingTable,
    dimension: int,
    face_model_id: int,
    filters: RowFilter,
    exact_max_rows: int | None = None,
) -> Literal["index", "exact"]:
    if dimension not in INDEXED_DIMENSIONS:
        return "exact"
    if exact_max_rows is None:
        exact_max_rows = DEFAULT_EXACT_MAX_ROWS
    rows = estimate_rows(table=table, face_model_id=face_model_id, filters=filters)
    return "exact" if rows <= exact_max_rows else "index"


def search_sql(
    *,
    table: EmbeddingTable,
    dimension: int,
    plan: Literal["index", "exact"],
    filters: RowFilter,
    threshold: float | None,
) -> str:
    """The SQL of one search.

    Placeholders, in order. exact: query vector, face_model_id, filter
    parameters, [max distance], top_k. index: face_model_id, filter parameters,
    query vector, candidate count, query vector, [max distance], top_k.
    """
    d = int(dimension)
    carried = "".join(f", f.{c}" for c in table.carried)
    carried_out = "".join(f", {c}" for c in table.carried)
    emb, model = f"f.{table.embedding_column}", f"f.{table.model_column}"
    cut = " AND distance <= %s" if threshold is not None else ""
    if plan == "exact":
        # The rows are collected and scored first (MATERIALIZED), then ranked
        # with a top-N sort. PostgreSQL has no statistics on
        # vector_dims(embedding) and guesses 0.5% of the table: with that
        # condition in the WHERE, it sorted every face by distance before the
        # media join, or hash-joined a seq scan of all faces (300 ms instead of
        # ~20 ms at 100k rows), so it only guards the distance (a model implies
        # its dimension anyway). Scoring inside the pool keeps the 2 KB
        # embeddings out of the tuplestore and lets a parallel worker share the
        # scoring (8k 512-D rows of a 1M table: p50 33 -> 26 ms).
        # `embedding <=> q` without the `::vector(D)` cast is not an index's
        # expression, so this can never become an HNSW scan (which would lose
        # rows to the filters).
        return (
            f"WITH pool AS MATERIALIZED ("  # noqa: S608
            f"  SELECT f.id{carried}, "
            f"    CASE WHEN vector_dims({emb}) = {d} "
            f"      THEN {emb} <=> %s::vector END AS distance "
            f"  FROM {table.table} f {filters.join} "
            f"  WHERE {model} = %s{filters.where}"
            f") "
            f"SELECT id{carried_out}, 1 - distance FROM pool "
            f"WHERE distance IS NOT NULL{cut} ORDER BY distance, id LIMIT %s"
        )
    index = vector_index(table, d)
    # The inner ORDER BY must be exactly the index's expression `<=>` a value of
    # its type, with the index's WHERE predicate, for the partial index to serve it.
    return (
        f"WITH candidates AS MATERIALIZED ("  # noqa: S608
        f"  SELECT f.id{carried}, {emb} AS embedding "
        f"  FROM {table.table} f {filters.join} "
        f"  WHERE vector_dims({emb}) = {d} AND {model} = %s{filters.where} "
        f"  ORDER BY {index.indexed_value(emb)} "
        f"    <=> {index.indexed_value('%s::vector')} "
        f"  LIMIT %s"
        f") "
        f"SELECT id{carried_out}, 1 - distance FROM ("
        f"  SELECT id{carried_out}, "
        f"         (embedding::vector({d}) <=> %s::vector({d})) AS distance "
        f"  FROM candidates"
        f") r WHERE true{cut} ORDER BY distance, id LIMIT %s"
    )


_RESET_SETTINGS = "; ".join(
    f"RESET {name}"
    for name in (
        "hnsw.ef_search",
        "hnsw.iterative_scan",
        "hnsw.max_scan_tuples",
        "enable_hashjoin",
        "enable_mergejoin",
        "random_page_cost",
    )
)


def _set_index_scan(cursor, *, ef_search: int, filtered: bool) -> None:
    cursor.execute(*_index_scan_settings(ef_search=ef_search, filtered=filtered))


def _index_scan_settings(*, ef_search: int, filtered: bool) -> tuple[str, list]:
    """SET LOCAL the HNSW scan settings (``set_config(..., true)``: they end with the
    transaction, so they never leak into other queries on a pooled connection)."""
    return (
        "SELECT set_config('hnsw.ef_search', %s, true),"
        " set_config('hnsw.iterative_scan', 'relaxed_order', true),"
        " set_config('hnsw.max_scan_tuples', %s, true),"
        # With a filter, a hash or merge join would drain the whole index scan
        # into a sort; a nested loop keeps the index order, so LIMIT stops the
        # iterative scan as soon as enough filtered candidates are found.
        " set_config('enable_hashjoin', %s, true),"
        " set_config('enable_mergejoin', %s, true)",
        [
            str(min(ef_search, 1000)),
            str(MAX_SCAN_TUPLES),
            "off" if filtered else "on",
            "off" if filtered else "on",
        ],
    )


def _params(plan, literal, face_model_id, filters, cut, candidates, top_k) -> list:
    if plan == "exact":
        return [literal, face_model_id, *filters.params, *cut, top_k]
    return [face_model_id, *filters.params, literal, candidates, literal, *cut, top_k]


def nearest(
    *,
    table: EmbeddingTable,
    embedding: np.ndarray,
    face_model_id: int,
    top_k: int = 20,
    threshold: float | None = None,
    filters: RowFilter = NO_FILTER,
    plan: Plan = "auto",
    ef_search: int | None = None,
    oversample: int = DEFAULT_OVERSAMPLE,
    exact_max_rows: int | None = None,
) -> list[Neighbour]:
    """The ``top_k`` rows of ``table`` most similar (cosine) to ``embedding``, best first.

    Call inside a tenant schema context. Only rows embedded by
    ``face_model_id`` are compared (whose dimension must equal
    ``len(embedding)``; a wide query goes through ``vectors.basis.
    query_embedding`` first). ``threshold`` drops results whose cosine
    similarity is below it. ``plan`` forces the index or the exact scan
    (benchmarks, tests); ``auto`` picks by selectivity.
    """
    vector = np.asarray(embedding, dtype=np.float32).ravel()
    if vector.size == 0 or not np.all(np.isfinite(vector)):
        raise ValueError("embedding must be a non-empty finite vector")
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}")
    dimension = int(vector.size)
    started = time.perf_counter()
    if plan == "auto":
        plan = choose_plan(
            table=table,
            dimension=dimension,
            face_model_id=face_model_id,
            filters=filters,
            exact_max_rows=exact_max_rows,
        )
    elif plan == "index" and dimension not in INDEXED_DIMENSIONS:
        plan = "exact"
    literal = vector_literal(vector)
    sql = search_sql(
        table=table, dimension=dimension, plan=plan, filters=filters, threshold=threshold
    )
    cut = [1.0 - float(threshold)] if threshold is not None else []
    candidates = max(top_k * oversample, top_k)
    # SET LOCAL needs a transaction: this call's own, or the caller's, where the
    # settings would outlive the call and are reset after it (a savepoint would
    # cost two more round trips and keep nothing the RESET does not).
    nested = connection.in_atomic_block
    own_transaction = contextlib.nullcontext() if nested else transaction.atomic()
    if plan == "exact":
        # The searched rows are hot (shared_buffers / page cache): price random
        # reads as such, or the planner hash-joins a seq scan of every row
        # instead of following an index from the filtered side.
        settings_sql, settings_params = "SELECT set_config('random_page_cost', '1.1', true)", []
    else:
        ef = max(ef_search or DEFAULT_EF_SEARCH.get(dimension, 200), candidates)
        settings_sql, settings_params = _index_scan_settings(
            ef_search=ef, filtered=bool(filters.conditions)
        )
    # The settings, the search and their reset go in one round trip: Django's
    # psycopg cursor binds parameters on the client, which allows several
    # statements per execute (a placement runs one search per face).
    statements = [settings_sql, sql, *([_RESET_SETTINGS] if nested else [])]
    params = _params(plan, literal, face_model_id, filters, cut, candidates, top_k)
    with own_transaction, connection.cursor() as cursor:
        cursor.execute("; ".join(statements), [*settings_params, *params])
        cursor.nextset()
        rows = cursor.fetchall()
    metrics.QUERIES.labels(table=table.table, plan=plan).inc()
    metrics.QUERY_DURATION.labels(plan=plan).observe(time.perf_counter() - started)
    return [Neighbour(int(r[0]), float(r[-1]), tuple(r[1:-1])) for r in rows]


def explain(
    *,
    table: EmbeddingTable,
    embedding: np.ndarray,
    face_model_id: int,
    plan: Literal["index", "exact"] = "index",
    filters: RowFilter = NO_FILTER,
    top_k: int = 10,
) -> str:
    """EXPLAIN of the search SQL (to check that the partial HNSW index is used)."""
    vector = np.asarray(embedding, dtype=np.float32).ravel()
    sql = search_sql(table=table, dimension=vector.size, plan=plan, filters=filters, threshold=None)
    candidates = top_k * DEFAULT_OVERSAMPLE
    params = _params(plan, vector_literal(vector), face_model_id, filters, [], candidates, top_k)
    with transaction.atomic(), connection.cursor() as cursor:
        _set_index_scan(
            cursor,
            ef_search=DEFAULT_EF_SEARCH.get(vector.size, 200),
            filtered=bool(filters.conditions),
        )
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())
