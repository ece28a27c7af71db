"""The vector layer works on any registered embedding table, not just the
catalogue's: the same index, the same query, one basis across all of them."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from media_ingest.embeddings import FACE_TABLE
from tests.search.vectors import make_faces, make_media
from tests.vectors.test_basis import face_like
from vectors import tables
from vectors.basis import basis_fit, stored_rotation
from vectors.indexes import index_build, index_status
from vectors.query import explain, nearest
from vectors.tables import EmbeddingTable

PROBE = EmbeddingTable(table="probe_embedding", index_prefix="probe", carried=("label",))


@pytest.fixture
def probe_table(alpha, monkeypatch):
    """A second embedding table in alpha's schema (inside the test's transaction)."""
    monkeypatch.setitem(tables._registry, PROBE.table, PROBE)
    with schema_context(alpha.schema_name), connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE probe_embedding (id bigserial PRIMARY KEY, "
            "face_model_id bigint NOT NULL, embedding vector NOT NULL, label text NOT NULL)"
        )
    return PROBE


def _insert(rows: list[tuple[int, np.ndarray, str]]) -> None:
    with connection.cursor() as cursor:
        for model_id, vector, label in rows:
            cursor.execute(
                "INSERT INTO probe_embedding (face_model_id, embedding, label) "
                "VALUES (%s, %s::vector, %s)",
                [model_id, "[" + ",".join(f"{x:.7f}" for x in vector) + "]", label],
            )


@pytest.mark.parametrize("plan", ["index", "exact"])
def test_a_second_table_gets_the_same_index_and_query(alpha, model, probe_table, plan):
    vectors = face_like(30)[:, :128]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with schema_context(alpha.schema_name):
        _insert([(model.pk, v, f"row-{i}") for i, v in enumerate(vectors)])
        built = index_build(probe_table, 128)
        assert built.name == "probe_embedding_128_hnsw" and built.created
        [state_128] = [s for s in index_status(probe_table) if s.dimension == 128]
        assert state_128.exists and state_128.rows == 30
        hits = nearest(
            table=probe_table, embedding=vectors[4], face_model_id=model.pk, top_k=3, plan=plan
        )
        with connection.cursor() as cursor:
            # A tiny table: forbid the scan-and-sort plans to see that the index *can* serve.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
            text = explain(table=probe_table, embedding=vectors[4], face_model_id=model.pk)
    assert hits[0].carried == ("row-4",)
    assert hits[0].similarity == pytest.approx(1.0, abs=1e-5)
    assert [h.similarity for h in hits] == sorted((h.similarity for h in hits), reverse=True)
    assert "probe_embedding_128_hnsw" in text


def test_one_basis_for_every_table_so_copies_stay_comparable(alpha, probe_table):
    """A wide embedding copied from the catalogue to another table keeps meaning
    the same after a refit: both tables are rewritten in the one basis."""
    from recognition.models import FaceModel

    wide = FaceModel.objects.create(
        name="wide-two-tables", version="1", engine="insightface", embedding_dim=512, licence="t"
    )
    engine = face_like(300)
    with schema_context(alpha.schema_name):
        faces = make_faces(make_media(), engine[:200], wide)
        _insert([(wide.pk, v, f"copy-{i}") for i, v in enumerate(engine[200:])])
        fit = basis_fit(face_model_id=wide.pk, dimension=512)
        rotation = stored_rotation(wide.pk)
        hits = nearest(
            table=probe_table,
            embedding=np.asarray(
                type(faces[0]).objects.get(pk=faces[0].pk).embedding, dtype=np.float32
            ),
            face_model_id=wide.pk,
            top_k=100,
            plan="exact",
        )
    assert fit.rewritten_rows == 300 and fit.sample_rows == 300
    expected = {f"copy-{i}": float(engine[0] @ v) for i, v in enumerate(engine[200:])}
    for hit in hits:
        assert hit.similarity == pytest.approx(expected[hit.carried[0]], abs=1e-4)
    assert rotation.T @ rotation == pytest.approx(np.eye(512), abs=1e-5)
    assert FACE_TABLE in tables.registered()
