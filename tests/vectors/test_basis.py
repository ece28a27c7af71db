"""A tenant's basis for wide embeddings: fitted to its faces, applied to every
face stored after, and invisible to every cosine."""

from __future__ import annotations

import numpy as np
import pytest
from django.db import transaction
from django_tenants.utils import schema_context

from media_ingest.embeddings import FACE_TABLE
from media_ingest.models import Face, MediaFile
from media_ingest.processing import Analysis, FoundFace, _store
from recognition.engines.base import DetectedFace
from tests import factories
from vectors.basis import (
    basis_fit,
    embeddings_for_storage,
    engine_embedding,
    query_embedding,
    stored_rotation,
)
from vectors.models import EmbeddingBasis

DIM = 512


@pytest.fixture
def wide_model(db):
    from recognition.models import FaceModel

    return FaceModel.objects.create(
        name="test-wide", version="1", engine="insightface", embedding_dim=DIM, licence="test"
    )


def face_like(n: int, seed: int = 3) -> np.ndarray:
    """Unit rows that share a 24-D subspace, spread over all 512 engine coordinates."""
    rng = np.random.default_rng(seed)
    mixing = np.linalg.qr(rng.standard_normal((DIM, 24)))[0]
    rows = rng.standard_normal((n, 24)) @ mixing.T + 0.05 * rng.standard_normal((n, DIM))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def store_engine_rows(vectors: np.ndarray, model) -> list[int]:
    """Rows written as they were before any basis existed (the engine's own)."""
    media = factories.media_file()
    faces = Face.objects.bulk_create(
        factories.face(media=media, face_model=model, embedding=v, ordinal=i)
        for i, v in enumerate(vectors)
    )
    return [f.pk for f in faces]


def stored(ids: list[int]) -> np.ndarray:
    by_id = dict(Face.objects.filter(pk__in=ids).values_list("pk", "embedding"))
    return np.stack([np.asarray(by_id[i], dtype=np.float32) for i in ids])


def test_fit_puts_the_faces_principal_axes_first_and_changes_no_cosine(alpha, wide_model):
    engine = face_like(400)
    with schema_context(alpha.schema_name):
        ids = store_engine_rows(engine, wide_model)
        fit = basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        after = stored(ids)
        rotation = stored_rotation(wide_model.pk)
        basis = EmbeddingBasis.objects.get(face_model=wide_model)
    assert fit.sample_rows == fit.rewritten_rows == 400
    # A random 128 of 512 coordinates hold a quarter of the energy; the fitted
    # sketch holds nearly all of it (the faces span 24 directions).
    assert fit.sketch_energy_before == pytest.approx(0.25, abs=0.08)
    assert fit.sketch_energy > 0.95
    assert basis.sketch_energy == pytest.approx(fit.sketch_energy)
    assert rotation.T @ rotation == pytest.approx(np.eye(DIM), abs=1e-5)
    assert after == pytest.approx(engine @ rotation, abs=1e-5)
    assert after @ after.T == pytest.approx(engine @ engine.T, abs=1e-5)


def test_faces_stored_after_a_fit_are_in_the_fitted_basis(alpha, wide_model):
    engine = face_like(300)
    newcomer = face_like(1, seed=9)[0]
    with schema_context(alpha.schema_name):
        ids = store_engine_rows(engine[:-1], wide_model)
        basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        media = factories.media_file(status=MediaFile.Status.PROCESSING)
        found = FoundFace(
            DetectedFace(
                box=(0, 0, 10, 10),
                landmarks=np.zeros((5, 2), np.float32),
                score=1.0,
                quality=0.9,
            ),
            newcomer,
            b"crop",
        )
        assert _store(media.pk, wide_model, Analysis([found], None)) is not None
        written = np.asarray(Face.objects.get(media=media).embedding, dtype=np.float32)
        as_query = query_embedding(face_model_id=wide_model.pk, vector=newcomer)
        neighbours = stored(ids)
    assert written == pytest.approx(as_query, abs=1e-6)
    assert neighbours @ written == pytest.approx(engine[:-1] @ newcomer, abs=1e-5)


def test_a_refit_composes_with_the_first_basis(alpha, wide_model):
    engine = face_like(300)
    with schema_context(alpha.schema_name):
        ids = store_engine_rows(engine[:150], wide_model)
        basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        with transaction.atomic():
            later = embeddings_for_storage(
                table=FACE_TABLE, face_model_id=wide_model.pk, dimension=DIM, vectors=engine[150:]
            )
        media = factories.media_file()
        Face.objects.bulk_create(
            factories.face(media=media, face_model=wide_model, embedding=v, ordinal=i)
            for i, v in enumerate(later)
        )
        ids += list(
            Face.objects.filter(media=media).order_by("ordinal").values_list("pk", flat=True)
        )
        refit = basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        rotation = stored_rotation(wide_model.pk)
        rows = stored(ids)
    assert refit.rewritten_rows == 300
    assert rows == pytest.approx(engine @ rotation, abs=1e-5)


def test_dlib_sized_embeddings_are_stored_as_they_come(alpha):
    vectors = face_like(3)[:, :128]
    with schema_context(alpha.schema_name), transaction.atomic():
        same = embeddings_for_storage(
            table=FACE_TABLE, face_model_id=1, dimension=128, vectors=vectors
        )
        query = query_embedding(face_model_id=1, vector=vectors[0])
        with pytest.raises(ValueError, match="indexed whole"):
            basis_fit(face_model_id=1, dimension=128)
    assert same == pytest.approx(vectors)
    assert query == pytest.approx(vectors[0])


def test_a_fit_changes_one_tenant_only(alpha, beta, wide_model):
    engine = face_like(200)
    with schema_context(beta.schema_name):
        beta_ids = store_engine_rows(engine, wide_model)
    with schema_context(alpha.schema_name):
        store_engine_rows(engine, wide_model)
        basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        assert stored_rotation(wide_model.pk) is not None
    with schema_context(beta.schema_name):
        assert stored_rotation(wide_model.pk) is None
        assert not EmbeddingBasis.objects.exists()
        assert stored(beta_ids) == pytest.approx(engine, abs=1e-6)
        assert query_embedding(face_model_id=wide_model.pk, vector=engine[0]) == pytest.approx(
            engine[0]
        )


def test_a_stored_embedding_turns_back_into_the_engines_own(alpha, wide_model):
    engine = face_like(200)
    with schema_context(alpha.schema_name):
        ids = store_engine_rows(engine, wide_model)
        basis_fit(face_model_id=wide_model.pk, dimension=DIM)
        back = engine_embedding(face_model_id=wide_model.pk, vector=stored(ids)[7])
    assert back == pytest.approx(engine[7], abs=1e-5)
