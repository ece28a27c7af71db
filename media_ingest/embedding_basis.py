"""The basis a tenant stores a wide model's embeddings in (``EmbeddingBasis``).

Search finds 512-D faces through an index over their first 128 coordinates,
a *sketch* (``search/indexes.py``), and re-ranks the shortlist on the whole
embedding. Engines emit wide embeddings in a fixed random basis
(``recognition.engines.basis``), where the sketch is a random projection:
its cosine strays +-0.09 from the full one, and where impostors come close
(correlated faces, a filter leaving 100k of them) real matches sink below
the shortlist. Rotated so that the faces' principal axes come first, the
same 128 coordinates keep most of their energy and the sketch ranks almost
like the full embedding (docs/benchmarks.md, "Face search", third round: 1M
correlated faces, filter keeping 10%, match recall 0.865 -> 0.988).

A rotation changes no cosine, so nothing else notices: thresholds, tracks,
every comparison between two stored embeddings are as before. What must hold
is that all of one model's rows in a tenant, and every query compared with
them, are in the same basis:

* writers call ``embeddings_for_storage`` inside the transaction that inserts
  the faces; it takes the face table's ROW EXCLUSIVE lock before reading the
  basis, and ``basis_fit`` holds an EXCLUSIVE lock (which waits for those
  writers and holds new ones back) while it rewrites the rows;
* searches pass a query photo's embedding through ``query_embedding``; a
  stored face's embedding is in the stored basis already. A search that
  reads the basis in the instant before a fit commits compares its query in
  the old basis with the rewritten rows, that once (the fit is rare: once
  per tenant and model, or an operator's refit; it also clears the cache).

Call everything here inside the tenant's schema.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

import numpy as np
from django.db import connection, transaction

from recognition.engines.basis import SKETCH_DIM, principal_axes, sketch_energy

from .models import EmbeddingBasis

# A tenant's first basis is fitted once it has this many faces of the model
# (search.maintenance); below it, searches scan every face anyway (the exact
# plan up to search.query.DEFAULT_EXACT_MAX_ROWS).
FIT_MIN_FACES = 10_000
# Above this many faces the rewrite and the index build take minutes: too
# long for a queued task (Q_TIMEOUT), so ``face_index fit`` is for operators.
FIT_AUTO_MAX_FACES = 100_000
# Faces the principal axes are computed from: ~100 per dimension.
FIT_SAMPLE_ROWS = 50_000
# Rows read, rotated and written back per round trip (~40 MB at 512-D).
REWRITE_CHUNK_ROWS = 20_000

_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_COPY_TRAILER = b"\xff\xff"


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


def embeddings_for_storage(*, face_model_id: int, dimension: int, vectors) -> np.ndarray:
    """Engine embeddings (n, dim) as this tenant stores them.

    Call inside the transaction that inserts them: the lock taken here keeps
    a concurrent ``basis_fit`` from leaving these rows in the old basis.
    """
    vectors = np.asarray(vectors, dtype=np.float32).reshape(-1, dimension)
    if not is_wide(dimension) or not len(vectors):
        return vectors
    if not connection.in_atomic_block:
        raise RuntimeError("embeddings_for_storage must run in the transaction that stores them")
    with connection.cursor() as cursor:
        cursor.execute("LOCK TABLE media_ingest_face IN ROW EXCLUSIVE MODE")
    return _rotate(vectors, stored_rotation(face_model_id))


def query_embedding(*, face_model_id: int, vector) -> np.ndarray:
    """An engine embedding (a query photo's face) in the basis of the stored ones."""
    vector = np.asarray(vector, dtype=np.float32).ravel()
    if not is_wide(vector.size):
        return vector
    return _rotate(vector[None, :], stored_rotation(face_model_id))[0]


# ------------------------------------------------------------------ fitting


def _copy_out_embeddings(cursor, sql: str, dimension: int, with_id: bool):
    """(ids or None, (n, dim) float32) from a binary COPY of ``sql`` (COPY
    takes no parameters: only integers are formatted into it)."""
    buffer = bytearray()
    with cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT BINARY)") as copy:
        for block in copy:
            buffer += block
    fields = [("n", ">i2")]
    if with_id:
        fields += [("id_len", ">i4"), ("id", ">i8")]
    fields += [("e_len", ">i4"), ("e_dim", ">i2"), ("e_unused", ">i2"), ("e", ">f4", (dimension,))]
    body = memoryview(buffer)[len(_COPY_HEADER) : len(buffer) - len(_COPY_TRAILER)]
    rows = np.frombuffer(body, dtype=np.dtype(fields))
    if len(rows) and (rows["e_dim"] != dimension).any():
        raise ValueError(f"rows of another size than {dimension}")
    ids = rows["id"].astype(np.int64) if with_id else None
    return ids, rows["e"].astype(np.float32)


def _copy_in_rows(cursor, ids: np.ndarray, vectors: np.ndarray) -> None:
    dimension = vectors.shape[1]
    dtype = np.dtype(
        [
            ("n", ">i2"),
            ("id_len", ">i4"),
            ("id", ">i8"),
            ("e_len", ">i4"),
            ("e_dim", ">i2"),
            ("e_unused", ">i2"),
            ("e", ">f4", (dimension,)),
        ]
    )
    rows = np.zeros(len(ids), dtype)
    rows["n"], rows["id_len"], rows["id"] = 2, 8, ids
    rows["e_len"], rows["e_dim"], rows["e"] = 4 + 4 * dimension, dimension, vectors
    with cursor.copy("COPY basis_rewrite (id, embedding) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_COPY_HEADER + rows.tobytes() + _COPY_TRAILER)


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
    """Fit the model's basis to this tenant's faces and rewrite them in it.

    Writers of the face table wait meanwhile; readers do not (they see the
    old rows and the old basis until it commits). Every stored row of the
    model is rewritten: with a large table, drop its sketch index first and
    build it after (``search.indexes.sketch_fit`` does), or each row is also
    inserted into the HNSW graph. None when the model has no faces here.
    """
    if not is_wide(dimension):
        raise ValueError(f"{dimension}-D embeddings are indexed whole, not by a sketch")
    started = time.perf_counter()
    where = f"face_model_id = {int(face_model_id)} AND vector_dims(embedding) = {int(dimension)}"
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE media_ingest_face IN EXCLUSIVE MODE")
        cursor.execute(f"SELECT count(*) FROM media_ingest_face WHERE {where}")  # noqa: S608
        total = int(cursor.fetchone()[0])
        if not total:
            return None
        percent = min(100.0, 100.0 * sample_rows / total)
        _, sample = _copy_out_embeddings(
            cursor,
            f"SELECT embedding FROM media_ingest_face TABLESAMPLE BERNOULLI ({percent:.6f}) "  # noqa: S608
            f"WHERE {where} LIMIT {int(sample_rows)}",
            dimension,
            with_id=False,
        )
        step = principal_axes(sample).astype(np.float32)
        energy_before, energy_after = sketch_energy(sample), sketch_energy(sample @ step)

        cursor.execute(
            "CREATE TEMP TABLE basis_rewrite (id bigint PRIMARY KEY, embedding vector) "
            "ON COMMIT DROP"
        )
        last_id, rewritten = 0, 0
        while True:
            ids, vectors = _copy_out_embeddings(
                cursor,
                f"SELECT id, embedding FROM media_ingest_face WHERE {where} "  # noqa: S608
                f"AND id > {int(last_id)} ORDER BY id LIMIT {REWRITE_CHUNK_ROWS}",
                dimension,
                with_id=True,
            )
            if not len(ids):
                break
            _copy_in_rows(cursor, ids, _rotate(vectors, step))
            last_id, rewritten = int(ids[-1]), rewritten + len(ids)
        cursor.execute(
            "UPDATE media_ingest_face f SET embedding = r.embedding "
            "FROM basis_rewrite r WHERE f.id = r.id"
        )
        # ON COMMIT DROP does not fire inside a caller's transaction.
        cursor.execute("DROP TABLE basis_rewrite")

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
    here and with FIT_MIN_FACES to FIT_AUTO_MAX_FACES faces. None when it
    should have, but the tenant holds too many faces for a background task
    (an operator runs ``face_index fit``)."""
    if not is_wide(dimension) or basis_get(face_model_id) is not None:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM (SELECT 1 FROM media_ingest_face "
            "WHERE face_model_id = %s LIMIT %s) enough",
            [face_model_id, FIT_AUTO_MAX_FACES + 1],
        )
        faces = int(cursor.fetchone()[0])
    if faces > FIT_AUTO_MAX_FACES:
        return None
    return faces >= FIT_MIN_FACES
