"""The basis a tenant stores a wide model's embeddings in (``EmbeddingBasis``).

A 512-D embedding is found through an index over its first 128 coordinates,
a *sketch* (``vectors.indexes``), and the shortlist is re-ranked on the
whole embedding. Engines emit wide embeddings in a fixed random basis
(``recognition.engines.basis``), where the sketch is a random projection:
its cosine strays +-0.09 from the full one, and where impostors come close
(correlated faces, a filter leaving 100k of them) real matches sink below
the shortlist. Rotated so that the faces' principal axes come first, the
same 128 coordinates keep most of their energy and the sketch ranks almost
like the full embedding (docs/benchmarks.md, "Face search", third round: 1M
correlated faces, filter keeping 10%, match recall 0.865 -> 0.988).

A rotation changes no cosine, so nothing else notices: thresholds, tracks,
every comparison between two stored embeddings are as before. What must hold
is that all of one model's rows in a tenant, in every registered table
(``vectors.tables``), and every query compared with them, are in the same
basis:

* writers call ``embeddings_for_storage`` inside the transaction that inserts
  the rows; it takes the table's ROW EXCLUSIVE lock before reading the basis,
  and ``basis_fit`` holds an EXCLUSIVE lock on every registered table (which
  waits for those writers and holds new ones back) while it rewrites them;
* a query photo's embedding goes through ``query_embedding``; a stored
  embedding is in the stored basis already, in whichever table it is, so it
  may be copied from one table to another as it is. ``engine_embedding``
  turns a stored one back into the engine's own basis. A search that reads
  the basis in the instant before a fit commits compares its query in the
  old basis with the rewritten rows, that once (a fit is rare: once per
  tenant and model, or an operator's refit).

Call everything here inside the tenant's schema.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction
from django.dispatch import Signal

from recognition.engines.basis import SKETCH_DIM, principal_axes, sketch_energy

from . import copy as binary_copy
from .indexes import DEFAULT_BUILD_MEMORY, IndexBuild, index_build, index_drop
from .models import EmbeddingBasis
from .tables import EmbeddingTable, registered

# A tenant's first basis is fitted once it has this many faces of the model
# (vectors.tasks); below it, searches scan every face anyway (the exact plan
# up to vectors.query.DEFAULT_EXACT_MAX_ROWS).
FIT_MIN_FACES = 10_000
# Above this many faces the rewrite and the index build take minutes: too
# long for a queued task, so ``face_index fit`` is for operators.
FIT_AUTO_MAX_FACES = 100_000
# Faces the principal axes are computed from: ~100 per dimension.
FIT_SAMPLE_ROWS = 50_000
# Rows read, rotated and written back per round trip (~40 MB at 512-D).
REWRITE_CHUNK_ROWS = 20_000

# Sent (inside the tenant's schema) after a fit rewrote the stored embeddings:
# anything derived from them, such as cached search results, is stale.
basis_changed = Signal()


def is_wide(dimension: int) -> bool:
    """Whether embeddings of this size are searched through a sketch."""
    return dimension > SKETCH_DIM


def _unit_rows(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def basis_get(face_model_id: int) -> EmbeddingBasis | None:
    """The fit's record (without the matrix), or None: the engine's basis."""
    return EmbeddingBasis.objects.filter(face_model_id=face_model_id).defer("rotation").first()


# (schema, model id) -> (the fit's id and time, its matrix): a 512-D rotation
# is 1 MiB, read once per process and fit instead of once per stored file.
_rotations: dict[tuple[str, int], tuple[tuple[int, object], np.ndarray]] = {}


def stored_rotation(face_model_id: int) -> np.ndarray | None:
    """(dim, dim) float32: stored = engine output @ this; None: the engine's basis."""
    version = (
        EmbeddingBasis.objects.filter(face_model_id=face_model_id)
        .values_list("pk", "fitted_at")
        .first()
    )
    key = (connection.schema_name, face_model_id)
    if version is None:
        _rotations.pop(key, None)
        return None
    cached = _rotations.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    raw = np.frombuffer(
        bytes(EmbeddingBasis.objects.values_list("rotation", flat=True).get(pk=version[0])),
        dtype=np.float32,
    )
    dim = round(np.sqrt(raw.size))
    _rotations[key] = (version, raw.reshape(dim, dim))
    return _rotations[key][1]


def _rotate(vectors: np.ndarray, rotation: np.ndarray | None) -> np.ndarray:
    if rotation is None:
        return vectors
    return _unit_rows(vectors @ rotation).astype(np.float32)


def embeddings_for_storage(
    *, table: EmbeddingTable, face_model_id: int, dimension: int, vectors
) -> np.ndarray:
    """Engine embeddings (n, dim) as this tenant stores them in ``table``.

    Call inside the transaction that inserts them: the lock taken here keeps
    a concurrent ``basis_fit`` from leaving these rows in the old basis.
    """
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dimension)
    if not is_wide(dimension) or not len(vectors):
        return vectors
    if not connection.in_atomic_block:
        raise RuntimeError("embeddings_for_storage must run in the transaction that stores them")
    with connection.cursor() as cursor:
        cursor.execute(f"LOCK TABLE {table.table} IN ROW EXCLUSIVE MODE")
    return _rotate(vectors, stored_rotation(face_model_id))


def query_embedding(*, face_model_id: int, vector) -> np.ndarray:
    """An engine embedding (a query photo's face) in the basis of the stored ones."""
    vector = np.asarray(vector, dtype=np.float32).ravel()
    if not is_wide(vector.size):
        return vector
    return _rotate(vector[None, :], stored_rotation(face_model_id))[0]


def engine_embedding(*, face_model_id: int, vector) -> np.ndarray:
    """A stored embedding back in the engine's own basis (the rotation is
    orthonormal: its transpose undoes it)."""
    vector = np.asarray(vector, dtype=np.float32).ravel()
    rotation = stored_rotation(face_model_id) if is_wide(vector.size) else None
    if rotation is None:
        return vector
    return _rotate(vector[None, :], rotation.T)[0]


# ------------------------------------------------------------------ fitting


def _embedding_columns(dimension: int, *, with_id: bool) -> tuple[binary_copy.Column, ...]:
    columns = (binary_copy.Column("embedding", "vector", dimension),)
    return ((binary_copy.Column("id", "int8"),) if with_id else ()) + columns


def _model_rows(table: EmbeddingTable, face_model_id: int, dimension: int) -> str:
    return (
        f"{table.model_column} = {int(face_model_id)} "
        f"AND vector_dims({table.embedding_column}) = {int(dimension)}"
    )


def _rewrite(cursor, table: EmbeddingTable, where: str, step: np.ndarray, dimension: int) -> int:
    """Rotate every row of ``table`` matching ``where`` by ``step``, via binary COPY."""
    cursor.execute(
        "CREATE TEMP TABLE basis_rewrite (id bigint PRIMARY KEY, embedding vector) ON COMMIT DROP"
    )
    columns = _embedding_columns(dimension, with_id=True)
    last_id, rewritten = 0, 0
    while True:
        rows = binary_copy.copy_out(
            cursor,
            f"SELECT id, {table.embedding_column} FROM {table.table} WHERE {where} "  # noqa: S608
            f"AND id > {int(last_id)} ORDER BY id LIMIT {REWRITE_CHUNK_ROWS}",
            columns,
        )
        if not len(rows):
            break
        body = binary_copy.encode_rows(
            columns,
            len(rows),
            id=rows["id"],
            embedding=_rotate(rows["embedding"].astype(np.float32), step),
        )
        with cursor.copy("COPY basis_rewrite (id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(binary_copy.HEADER + body + binary_copy.TRAILER)
        last_id, rewritten = int(rows["id"][-1]), rewritten + len(rows)
    cursor.execute(
        f"UPDATE {table.table} f SET {table.embedding_column} = r.embedding "  # noqa: S608
        "FROM basis_rewrite r WHERE f.id = r.id"
    )
    # ON COMMIT DROP does not fire inside a caller's transaction.
    cursor.execute("DROP TABLE basis_rewrite")
    return rewritten


@dataclass(frozen=True)
class BasisFit:
    face_model_id: int
    sample_rows: int
    rewritten_rows: int
    sketch_energy_before: float
    sketch_energy: float
    seconds: float


def basis_fit(
    *, face_model_id: int, dimension: int, sample_rows: int = FIT_SAMPLE_ROWS
) -> BasisFit | None:
    """Fit the model's basis to this tenant's embeddings and rewrite every
    registered table's rows of the model in it.

    Writers of those tables wait meanwhile; readers do not (they see the old
    rows and the old basis until it commits). With large tables, drop their
    sketch indexes first and build them after (``refit`` does), or each
    rewritten row is also inserted into the HNSW graph. None when the model
    has no embeddings here.
    """
    if not is_wide(dimension):
        raise ValueError(f"{dimension}-D embeddings are indexed whole, not by a sketch")
    started = time.perf_counter()
    tables = registered()
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"LOCK TABLE {table.table} IN EXCLUSIVE MODE")
        counts = {}
        for table in tables:
            where = _model_rows(table, face_model_id, dimension)
            cursor.execute(f"SELECT count(*) FROM {table.table} WHERE {where}")  # noqa: S608
            counts[table.table] = int(cursor.fetchone()[0])
        total = sum(counts.values())
        if not total:
            return None
        samples = []
        for table in tables:
            share = round(sample_rows * counts[table.table] / total)
            if not share:
                continue
            percent = min(100.0, 100.0 * share / counts[table.table])
            rows = binary_copy.copy_out(
                cursor,
                f"SELECT {table.embedding_column} FROM {table.table} "  # noqa: S608
                f"TABLESAMPLE BERNOULLI ({percent:.6f}) "
                f"WHERE {_model_rows(table, face_model_id, dimension)} LIMIT {int(share)}",
                _embedding_columns(dimension, with_id=False),
            )
            samples.append(rows["embedding"].astype(np.float32))
        sample = np.concatenate(samples) if samples else np.zeros((0, dimension), np.float32)
        step = principal_axes(sample).astype(np.float32)
        energy_before, energy_after = sketch_energy(sample), sketch_energy(sample @ step)
        rewritten = sum(
            _rewrite(cursor, table, _model_rows(table, face_model_id, dimension), step, dimension)
            for table in tables
        )
        previous = stored_rotation(face_model_id)
        rotation = step if previous is None else previous @ step
        EmbeddingBasis.objects.update_or_create(
            face_model_id=face_model_id,
            defaults={
                "rotation": np.ascontiguousarray(rotation, dtype=np.float32).tobytes(),
                "sample_rows": len(sample),
                "sketch_energy_before": energy_before,
                "sketch_energy": energy_after,
            },
        )
    return BasisFit(
        face_model_id=face_model_id,
        sample_rows=len(sample),
        rewritten_rows=rewritten,
        sketch_energy_before=energy_before,
        sketch_energy=energy_after,
        seconds=time.perf_counter() - started,
    )


def basis_fit_due(*, face_model_id: int, dimension: int) -> bool | None:
    """Whether the scheduled fit should run now: a wide model without a basis
    here and with FIT_MIN_FACES to FIT_AUTO_MAX_FACES embeddings. None when it
    should have, but the tenant holds too many for a background task (an
    operator runs ``face_index fit``)."""
    if not is_wide(dimension) or basis_get(face_model_id) is not None:
        return False
    faces = 0
    with connection.cursor() as cursor:
        for table in registered():
            cursor.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM {table.table} "  # noqa: S608
                f"WHERE {table.model_column} = %s LIMIT %s) enough",
                [face_model_id, FIT_AUTO_MAX_FACES + 1],
            )
            faces += int(cursor.fetchone()[0])
    if faces > FIT_AUTO_MAX_FACES:
        return None
    return faces >= FIT_MIN_FACES


@dataclass(frozen=True)
class Refit:
    fit: BasisFit | None  # None: the model has no embeddings in this tenant
    builds: list[IndexBuild]


def refit(
    *,
    face_model_id: int,
    dimension: int,
    maintenance_work_mem: str = DEFAULT_BUILD_MEMORY,
    compact: bool = False,
) -> Refit:
    """Fit the basis (``basis_fit``) with the sketch indexes of every
    registered table dropped first and rebuilt over the rewritten rows:
    rewriting rows under a live HNSW index would insert each into the graph
    (a few hundred rows/s). Searches keep working meanwhile (by a scan while
    an index is missing).

    Each rewritten row leaves its old version behind: a VACUUM makes that
    space reusable, but the table keeps its doubled size, which slows scans
    of a large tenant; ``compact`` rewrites it instead (VACUUM FULL), during
    which the tenant's searches and writes wait."""
    tables = registered()
    for table in tables:
        index_drop(table, dimension)
    builds = []
    try:
        fit = basis_fit(face_model_id=face_model_id, dimension=dimension)
        # VACUUM cannot run inside a caller's transaction: autovacuum's turn then.
        if fit is not None and not connection.in_atomic_block:
            with connection.cursor() as cursor:
                options = "FULL, ANALYZE" if compact else "ANALYZE"
                for table in tables:
                    cursor.execute(f"VACUUM ({options}) {table.table}")
    finally:
        for table in tables:
            builds.append(index_build(table, dimension, maintenance_work_mem=maintenance_work_mem))
    basis_changed.send(sender=EmbeddingBasis, face_model_id=face_model_id)
    return Refit(fit=fit, builds=builds)
