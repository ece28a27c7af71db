"""Index maintenance (``manage.py face_index``): status, drop before a large
load, build after it; searches stay correct without the index and use it
again once it is built. DDL is transactional in PostgreSQL, so each test's
drops and builds are rolled back with it."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_context

from media_ingest.embeddings import FACE_TABLE
from search.query import explain, similar_faces
from tests.search.vectors import make_faces, make_media, towards
from vectors.indexes import index_build, index_drop, index_status, table_indexes


def _state(dimension):
    return next(s for s in index_status(FACE_TABLE) if s.dimension == dimension)


def test_status_reports_both_indexes_and_the_faces_they_cover(alpha, model):
    with schema_context(alpha.schema_name):
        before = _state(128).rows
        make_faces(make_media(), [towards(0.9), towards(0.2)], model)
        state = _state(128)
        names = {s.name for s in index_status(FACE_TABLE) if s.exists and s.valid}
    assert state.exists and state.valid and state.size_bytes > 0
    assert state.rows == before + 2
    assert names == {i.name for i in table_indexes(FACE_TABLE)}


def test_search_survives_a_dropped_index_and_uses_the_rebuilt_one(alpha, model):
    with schema_context(alpha.schema_name):
        faces = make_faces(make_media(), [towards(0.95), towards(0.7), towards(0.1)], model)
        assert index_drop(FACE_TABLE, 128) is True
        assert index_drop(FACE_TABLE, 128) is False
        assert not _state(128).exists
        without = similar_faces(embedding=towards(1.0), face_model_id=model.id, plan="index")
        assert "hnsw" not in explain(embedding=towards(1.0), face_model_id=model.id)

        with connection.cursor() as cursor:
            # The rows above were inserted in this test's transaction; their
            # deferred FK checks must run before PostgreSQL builds an index.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        built = index_build(FACE_TABLE, 128, m=8, ef_construction=32, maintenance_work_mem="64MB")
        assert built.created and built.size_bytes > 0
        assert index_build(FACE_TABLE, 128).created is False  # present already
        with connection.cursor() as cursor:
            # Tiny tables favour a scan and a sort; forbid them to see that the index can serve.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_sort = off")
        plan = explain(embedding=towards(1.0), face_model_id=model.id)
        with_index = similar_faces(embedding=towards(1.0), face_model_id=model.id, plan="index")
    assert "face_embedding_128_hnsw" in plan
    ours = [f.id for f in faces]
    assert [h.face_id for h in without if h.face_id in ours] == ours
    assert [h.face_id for h in with_index if h.face_id in ours] == ours


def test_build_refuses_bad_parameters(alpha):
    with schema_context(alpha.schema_name), pytest.raises(ValueError, match="ef_construction"):
        index_build(FACE_TABLE, 128, m=1)
    with schema_context(alpha.schema_name), pytest.raises(ValueError, match="memory"):
        index_build(FACE_TABLE, 128, maintenance_work_mem="lots; DROP TABLE x")


def test_face_index_command(alpha):
    out = StringIO()
    call_command("face_index", "status", alpha.slug, stdout=out)
    assert "128-D  face_embedding_128_hnsw" in out.getvalue()
    call_command("face_index", "drop", alpha.slug, "--dim", "512", stdout=out)
    call_command("face_index", "status", alpha.slug, stdout=out)
    assert "MISSING" in out.getvalue()
    call_command("face_index", "build", alpha.slug, "--memory", "64MB", stdout=out)
    assert "face_embedding_512_hnsw: built in" in out.getvalue()
    assert "face_embedding_128_hnsw: present already" in out.getvalue()
    with pytest.raises(CommandError, match="No tenant"):
        call_command("face_index", "status", "nobody")
    with pytest.raises(CommandError, match="memory"):
        call_command("face_index", "build", alpha.slug, "--replace", "--memory", "lots")


def test_indexes_are_per_tenant(alpha, beta):
    with schema_context(alpha.schema_name):
        index_drop(FACE_TABLE, 512)
        assert not _state(512).exists
    with schema_context(beta.schema_name):
        assert _state(512).exists
