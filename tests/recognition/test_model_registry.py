"""The FaceModel registry: built-in dlib model, pack import, each tenant's active model."""

import zipfile
from io import StringIO

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from recognition import selectors, services
from recognition.errors import ModelPackError
from recognition.models import FaceModel


@pytest.fixture
def models_dir(settings, tmp_path):
    settings.RECOGNITION = {"MODELS_DIR": tmp_path / "models"}
    return tmp_path / "models"


def _models(*args) -> str:
    out = StringIO()
    call_command("models", *args, stdout=out)
    return out.getvalue()


def test_the_builtin_dlib_model_is_registered_and_is_every_tenants_default(alpha, beta):
    [model] = FaceModel.objects.filter(engine="dlib")
    assert model.is_default and model.embedding_dim == 128
    assert set(model.weights) >= {"dlib_face_recognition_resnet_model_v1.dat"}
    assert all(len(digest) == 64 for digest in model.weights.values())
    assert selectors.active_face_model(tenant=alpha.tenant) == model
    assert selectors.active_face_model(tenant=beta.tenant) == model


def test_import_a_pack_directory_records_hashes_dim_and_a_licence_note(alpha, pack_dir, models_dir):
    output = _models("import", str(pack_dir), "--name", "scrfd-mbf")
    assert "Registered scrfd-mbf" in output
    model = FaceModel.objects.get(name="scrfd-mbf")
    assert model.engine == "insightface" and model.embedding_dim == 128
    assert set(model.weights) == {"scrfd_500m_bnkps.onnx", "mobilefacenet_128d_b_dynbatch.onnx"}
    assert "non-commercial" in model.licence.lower()
    assert model.path.startswith(str(models_dir))
    assert not model.is_default

    engine = services.engine_for(model)
    faces, embeddings = engine.analyze_batch([_astronaut()])[0]
    assert len(faces) == 1 and embeddings.shape == (1, 128)
    assert np.isclose(np.linalg.norm(embeddings[0]), 1.0, atol=1e-4)

    with pytest.raises(CommandError, match="already registered"):
        _models("import", str(pack_dir), "--name", "scrfd-mbf")


def test_import_a_zipped_pack_then_choose_it_for_one_tenant_only(
    alpha, beta, pack_dir, models_dir, tmp_path
):
    archive = tmp_path / "pack.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for file in pack_dir.iterdir():
            zf.write(file.resolve(), f"mypack/{file.name}")
    _models("import", str(archive), "--name", "zipped")
    assert "alpha now uses zipped" in _models("use", "alpha", "zipped")
    zipped = FaceModel.objects.get(name="zipped")
    assert selectors.active_face_model(tenant=alpha.tenant) == zipped
    assert selectors.active_face_model(tenant=beta.tenant).engine == "dlib"
    listing = _models("list")
    zipped_line = next(line for line in listing.splitlines() if "zipped" in line)
    assert zipped_line.split()[4] == "1"  # one tenant uses it


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda tmp: tmp / "missing", "no such file"),
        (lambda tmp: (tmp / "notes.txt").write_text("hello") and tmp / "notes.txt", "neither"),
        (lambda tmp: (tmp / "empty").mkdir() or tmp / "empty", "no .onnx files"),
    ],
)
def test_unusable_packs_are_refused_with_a_reason(db, models_dir, tmp_path, make, reason):
    source = make(tmp_path)
    with pytest.raises(ModelPackError, match=reason):
        services.face_model_import(source=source)
    assert not FaceModel.objects.filter(engine="insightface").exists()


def test_owners_choose_the_model_in_the_portal_and_see_licences(alpha, pack_dir, models_dir):
    model = services.face_model_import(source=pack_dir, name="portal-pack")
    client = alpha.client(alpha.owner)
    page = client.get("/settings/model/")
    assert page.status_code == 200
    assert b"portal-pack" in page.content and b"non-commercial" in page.content.lower()
    response = client.post("/settings/model/", {"face_model": model.pk}, follow=True)
    assert b"now uses portal-pack" in response.content
    assert selectors.active_face_model(tenant=alpha.tenant) == model
    assert alpha.client(alpha.viewer).get("/settings/model/").status_code == 403


def _astronaut():
    from skimage import data

    return np.ascontiguousarray(data.astronaut())
