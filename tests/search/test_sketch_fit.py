"""A wide model's sketch basis is fitted by itself once a tenant has enough
faces (and by ``face_index fit``); searches find the same faces, with the
same similarities, through the rebuilt index."""

from __future__ import annotations

from io import StringIO

import numpy as np
import pytest
from django.core.cache import cache as django_cache
from django.core.management import CommandError, call_command
from django_tenants.utils import schema_context

from recognition.services import tenant_face_model_set
from search import cache
from search.query import explain, similar_faces
from tenants.tasks import run_tenant_task
from tests.conftest import run_queued_tasks
from tests.search.vectors import make_faces, make_media
from vectors import basis as embedding_basis
from vectors.basis import query_embedding, stored_rotation
from vectors.models import EmbeddingBasis
from vectors.tasks import fit_bases_everywhere

DIM = 512
FIT_TASK = "vectors.tasks.fit_basis_if_due"


@pytest.fixture
def wide_model(db):
    from recognition.models import FaceModel

    return FaceModel.objects.create(
        name="test-wide", version="1", engine="insightface", embedding_dim=DIM, licence="test"
    )


@pytest.fixture
def alpha_on_wide_model(alpha, wide_model, monkeypatch):
    tenant_face_model_set(tenant=alpha.tenant, face_model=wide_model)
    monkeypatch.setattr(embedding_basis, "FIT_MIN_FACES", 120)
    monkeypatch.setattr(embedding_basis, "FIT_AUTO_MAX_FACES", 150)
    return wide_model


def identities(n_people: int, per_person: int, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    """Engine-basis faces: people drawn from a shared 32-D subspace, samples around them."""
    rng = np.random.default_rng(seed)
    mixing = np.linalg.qr(rng.standard_normal((DIM, 32)))[0]
    centres = rng.standard_normal((n_people, 32)) @ mixing.T
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    person = np.repeat(np.arange(n_people), per_person)
    rows = centres[person] + 0.04 * rng.standard_normal((len(person), DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32), person


def search(query: np.ndarray, model, plan: str):
    return similar_faces(
        embedding=query_embedding(face_model_id=model.pk, vector=query),
        face_model_id=model.pk,
        top_k=5,
        plan=plan,
    )


def test_the_basis_is_fitted_once_at_enough_faces_and_search_finds_the_same(
    alpha, alpha_on_wide_model
):
    model = alpha_on_wide_model
    faces, person = identities(20, 6)
    query = faces[7] + 0.02 * np.random.default_rng(1).standard_normal(DIM).astype(np.float32)
    with schema_context(alpha.schema_name):
        stored = make_faces(make_media(), faces[:119], model)
    assert run_tenant_task(alpha.schema_name, FIT_TASK) is False  # 119 faces: not yet
    with schema_context(alpha.schema_name):
        stored += make_faces(make_media(), faces[119:], model)
        before = search(query, model, "exact")
        generation = django_cache.get(cache.GENERATION_KEY)
    assert run_tenant_task(alpha.schema_name, FIT_TASK) is True
    assert run_tenant_task(alpha.schema_name, FIT_TASK) is False  # once
    with schema_context(alpha.schema_name):
        assert EmbeddingBasis.objects.get(face_model=model).sample_rows == 120
        exact, indexed = search(query, model, "exact"), search(query, model, "index")
        plan = explain(
            embedding=query_embedding(face_model_id=model.pk, vector=query),
            face_model_id=model.pk,
        )
        assert django_cache.get(cache.GENERATION_KEY) != generation
    assert "face_embedding_512_hnsw" in plan
    assert [h.face_id for h in exact] == [h.face_id for h in before]
    assert [h.similarity for h in exact] == pytest.approx([h.similarity for h in before], abs=1e-5)
    assert [h.face_id for h in indexed] == [h.face_id for h in exact]
    row_of = {face.pk: row for row, face in enumerate(stored)}
    assert [person[row_of[h.face_id]] for h in exact] == [person[7]] * 5


def test_only_tenants_on_a_wide_model_are_queued(
    alpha, beta, alpha_on_wide_model, django_capture_on_commit_callbacks
):
    faces, _ = identities(20, 6)
    with schema_context(alpha.schema_name):
        make_faces(make_media(), faces, alpha_on_wide_model)
    with django_capture_on_commit_callbacks(execute=True):
        assert fit_bases_everywhere() == 1
    assert run_queued_tasks() == [True]  # alpha's, run in alpha's schema
    with schema_context(alpha.schema_name):
        assert stored_rotation(alpha_on_wide_model.pk) is not None


def test_a_tenant_too_large_for_a_background_fit_is_left_to_the_operator(
    alpha, alpha_on_wide_model, caplog
):
    faces, _ = identities(16, 10)
    with schema_context(alpha.schema_name):
        make_faces(make_media(), faces, alpha_on_wide_model)
    assert run_tenant_task(alpha.schema_name, FIT_TASK) is False
    assert "run `manage.py face_index fit`" in caplog.text
    with schema_context(alpha.schema_name):
        assert stored_rotation(alpha_on_wide_model.pk) is None


def test_face_index_fit_command(alpha, beta, alpha_on_wide_model):
    faces, _ = identities(5, 4)
    with schema_context(alpha.schema_name):
        make_faces(make_media(), faces, alpha_on_wide_model)
    out = StringIO()
    call_command("face_index", "fit", alpha.slug, stdout=out)
    assert "Fitted on 20 faces; 20 rewritten" in out.getvalue()
    assert "face_embedding_512_hnsw rebuilt" in out.getvalue()
    with schema_context(alpha.schema_name):
        assert stored_rotation(alpha_on_wide_model.pk) is not None
    out = StringIO()
    call_command("face_index", "status", alpha.slug, stdout=out)
    assert "Sketch of test-wide" in out.getvalue() and "on 20 faces" in out.getvalue()
    with schema_context(beta.schema_name):
        assert stored_rotation(alpha_on_wide_model.pk) is None
    with pytest.raises(CommandError, match="indexed whole"):
        call_command("face_index", "fit", beta.slug)


def test_migrate_writes_every_schedule_the_token_purge_included(db):
    """The test database was made by migrate, as a deployment's is: no `make run` step."""
    from django.conf import settings
    from django_q.models import Schedule

    funcs = dict(Schedule.objects.values_list("name", "func"))
    assert set(funcs) == set(settings.FACET_SCHEDULES)
    assert (
        funcs["Purge expired API tokens"] == "tenants.maintenance.purge_expired_tokens_everywhere"
    )
    assert funcs["Fit embedding storage bases"] == "vectors.tasks.fit_bases_everywhere"
    reconciler = "media_ingest.maintenance.requeue_stuck_media_everywhere"
    assert funcs["Re-queue stuck media"] == reconciler
