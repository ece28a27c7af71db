"""search.query.similar_faces on real tenant schemas: order, threshold, filters,
model and tenant boundaries, and that the SQL matches the partial HNSW index."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from media_ingest.embeddings import FACE_TABLE
from search.query import SearchFilters, similar_faces
from tests.search.vectors import DIM, axis, make_faces, make_media, towards, unit
from vectors.query import NO_FILTER, vector_literal
from vectors.query import choose_plan as _choose_plan
from vectors.query import search_sql as _search_sql


def search_sql(*, dimension, plan, filters, threshold):
    """The catalogue search's SQL and its filters' parameters."""
    row_filter = filters.row_filter() if filters else NO_FILTER
    sql = _search_sql(
        table=FACE_TABLE, dimension=dimension, plan=plan, filters=row_filter, threshold=threshold
    )
    return sql, list(row_filter.params)


def choose_plan(**kwargs):
    kwargs["filters"] = kwargs["filters"].row_filter() if kwargs["filters"] else NO_FILTER
    return _choose_plan(table=FACE_TABLE, **kwargs)


PLANS = ("index", "exact")


@pytest.fixture
def other_model(db):
    from recognition.models import FaceModel

    return FaceModel.objects.create(
        name="other-128", version="1", engine="dlib", embedding_dim=DIM, licence="test"
    )


@pytest.mark.parametrize("plan", PLANS)
def test_top_k_in_similarity_order(alpha, model, plan):
    sims = [0.95, 0.2, 0.8, 0.5, 0.9, 0.1, 0.7]
    with schema_context(alpha.schema_name):
        faces = make_faces(make_media(), [towards(s) for s in sims], model)
        hits = similar_faces(embedding=axis(0), face_model_id=model.id, top_k=4, plan=plan)
    by_sim = sorted(zip(sims, faces, strict=True), key=lambda p: -p[0])[:4]
    assert [h.face_id for h in hits] == [f.id for _, f in by_sim]
    assert [round(h.similarity, 4) for h in hits] == [s for s, _ in by_sim]
    assert hits[0].media_id == faces[0].media_id and hits[0].track_id is None


@pytest.mark.parametrize("plan", PLANS)
def test_threshold_drops_strangers(alpha, model, plan):
    with schema_context(alpha.schema_name):
        make_faces(make_media(), [towards(s) for s in (0.9, 0.75, 0.6, 0.3, 0.0)], model)
        hits = similar_faces(
            embedding=axis(0), face_model_id=model.id, top_k=10, threshold=0.6, plan=plan
        )
    assert [round(h.similarity, 3) for h in hits] == [0.9, 0.75, 0.6]


@pytest.mark.parametrize("plan", PLANS)
def test_filters_by_media_kind_source_and_date(alpha, model, plan):
    with schema_context(alpha.schema_name):
        photo = make_faces(make_media(kind="image", source="web"), [towards(0.9)], model)[0]
        video = make_faces(make_media(kind="video", source="api"), [towards(0.8)], model)[0]
        old = make_faces(
            make_media(kind="image", source="zip", days_ago=30), [towards(0.7)], model
        )[0]

        def ids(filters):
            hits = similar_faces(
                embedding=axis(0), face_model_id=model.id, filters=filters, plan=plan
            )
            return [h.face_id for h in hits]

        assert ids(None) == [photo.id, video.id, old.id]
        assert ids(SearchFilters(kinds=("video",))) == [video.id]
        assert ids(SearchFilters(sources=("web", "zip"))) == [photo.id, old.id]
        week_ago = timezone.now() - timedelta(days=7)
        assert ids(SearchFilters(created_to=week_ago)) == [old.id]
        assert ids(SearchFilters(created_from=week_ago, kinds=("image",))) == [photo.id]


@pytest.mark.parametrize("plan", PLANS)
def test_only_the_given_models_embeddings(alpha, model, other_model, plan):
    with schema_context(alpha.schema_name):
        mine = make_faces(make_media(), [towards(0.8)], model)[0]
        make_faces(make_media(), [axis(0)], other_model)  # identical to the query, other model
        hits = similar_faces(embedding=axis(0), face_model_id=model.id, plan=plan)
        other = similar_faces(embedding=axis(0), face_model_id=other_model.id, plan=plan)
    assert [h.face_id for h in hits] == [mine.id]
    assert len(other) == 1 and other[0].similarity == pytest.approx(1.0)


@pytest.mark.parametrize("plan", PLANS)
def test_a_face_of_tenant_a_never_appears_in_b(alpha, beta, model, plan):
    query = unit(np.arange(1, DIM + 1, dtype=np.float32))
    with schema_context(alpha.schema_name):
        alpha_face = make_faces(make_media(), [query], model)[0]
    with schema_context(beta.schema_name):
        beta_hits = similar_faces(embedding=query, face_model_id=model.id, plan=plan)
        beta_face = make_faces(make_media(), [query], model)[0]
        beta_hits_after = similar_faces(embedding=query, face_model_id=model.id, plan=plan)
    with schema_context(alpha.schema_name):
        alpha_hits = similar_faces(embedding=query, face_model_id=model.id, plan=plan)
    assert beta_hits == []
    assert [(h.face_id, h.media_id) for h in beta_hits_after] == [
        (beta_face.id, beta_face.media_id)
    ]
    assert [(h.face_id, h.media_id) for h in alpha_hits] == [(alpha_face.id, alpha_face.media_id)]


def _plan_text(sql: str, params: list) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # Tiny tables favour a seq scan, or (once analyzed) a B-tree scan and a
        # sort: forbid both to see whether the HNSW index *can* serve.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


@pytest.mark.parametrize("filters", [None, SearchFilters(kinds=("image",))])
def test_index_plan_uses_the_partial_hnsw_index(alpha, model, filters):
    literal = vector_literal(axis(0))
    sql, params = search_sql(dimension=DIM, plan="index", filters=filters, threshold=None)
    with schema_context(alpha.schema_name):
        text = _plan_text(sql, [model.id, *params, literal, 40, literal, 10])
    assert f"face_embedding_{DIM}_hnsw" in text


def test_exact_plan_never_uses_the_hnsw_index(alpha, model):
    """An HNSW scan under a filter can return fewer rows than asked for."""
    literal = vector_literal(axis(0))
    filters = SearchFilters(kinds=("image",))
    sql, params = search_sql(dimension=DIM, plan="exact", filters=filters, threshold=0.5)
    with schema_context(alpha.schema_name):
        text = _plan_text(sql, [literal, model.id, *params, 0.5, 10])
    assert "hnsw" not in text


def test_auto_plan_is_exact_for_few_rows(alpha, model):
    with schema_context(alpha.schema_name):
        make_faces(make_media(), [towards(0.9)], model)
        assert choose_plan(dimension=DIM, face_model_id=model.id, filters=None) == "exact"
        assert (
            choose_plan(dimension=DIM, face_model_id=model.id, filters=None, exact_max_rows=-1)
            == "index"
        )
        assert choose_plan(dimension=96, face_model_id=model.id, filters=None) == "exact"


def test_rejects_bad_input(alpha, model):
    with schema_context(alpha.schema_name), pytest.raises(ValueError):
        similar_faces(embedding=np.full(DIM, np.nan), face_model_id=model.id)
    with schema_context(alpha.schema_name), pytest.raises(ValueError):
        similar_faces(embedding=axis(0), face_model_id=model.id, top_k=0)


def test_settings_do_not_outlive_the_call_in_a_callers_transaction(alpha, model):
    with schema_context(alpha.schema_name):
        make_faces(make_media(), [towards(0.9)], model)
        with transaction.atomic(), connection.cursor() as cursor:
            hits = similar_faces(
                embedding=axis(0),
                face_model_id=model.id,
                filters=SearchFilters(kinds=("image",)),
                plan="index",
            )
            cursor.execute("SHOW enable_hashjoin")
            assert cursor.fetchone()[0] == "on"
            cursor.execute("SHOW hnsw.iterative_scan")
            assert cursor.fetchone()[0] == "off"
    assert len(hits) == 1


@pytest.mark.parametrize("plan", PLANS)
def test_512_d_sketch_index_and_full_precision_rerank(alpha, plan):
    """512-D faces are found through the 128-D sketch index and ranked by
    their full embedding: a face that only looks close on the sketch (its
    first 128 coordinates) loses to one that is closer over all 512."""
    from recognition.models import FaceModel

    model = FaceModel.objects.create(
        name="test-512", version="1", engine="insightface", embedding_dim=512, licence="test"
    )
    rng = np.random.default_rng(5)
    query = unit(rng.standard_normal(512))
    close = unit(query + 0.1 * rng.standard_normal(512))  # cosine ~0.4
    # Same first 128 coordinates as the query, unrelated after them: cosine ~0.2.
    sketch_twin = unit(np.concatenate([query[:128], 0.05 * rng.standard_normal(384)]))
    stranger = unit(rng.standard_normal(512))
    assert float(sketch_twin[:128] @ query[:128]) > float(close[:128] @ query[:128])
    assert float(close @ query) > float(sketch_twin @ query)
    with schema_context(alpha.schema_name):
        faces = make_faces(make_media(), [close, sketch_twin, stranger], model)
        hits = similar_faces(embedding=query, face_model_id=model.id, top_k=3, plan=plan)
        literal = vector_literal(query)
        sql, params = search_sql(dimension=512, plan="index", filters=None, threshold=None)
        text = _plan_text(sql, [model.id, *params, literal, 12, literal, 3])
    assert "face_embedding_512_hnsw" in text and "subvector" in text
    assert [h.face_id for h in hits] == [f.id for f in faces]
    # Similarities come from the float32 column, not the half-precision sketch.
    assert hits[0].similarity == pytest.approx(float(close @ query), abs=1e-6)
