"""People through the API: consent, CRUD, enrolment from photos and the library."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django_tenants.utils import schema_context
from PIL import Image, ImageFilter

from people.models import EnrolledFace, FaceLabel, Person
from tests.people.conftest import ALICE, BOB, create_person, enrol, photo, upload


def test_a_person_needs_a_name_and_a_consent_basis(api):
    refused = api.post("/api/v1/people/", {"name": "Alice"}, content_type="application/json")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid" and "consent_basis" in refused.json()["fields"]
    other = api.post(
        "/api/v1/people/",
        {"name": "Alice", "consent_basis": "other"},
        content_type="application/json",
    )
    assert other.status_code == 400 and other.json()["code"] == "consent-note-required"
    person = create_person(api, "Alice", external_id="S-1")
    assert person["consent_basis"] == "consent" and person["consent_recorded_at"]
    duplicate = api.post(
        "/api/v1/people/",
        {"name": "Another", "consent_basis": "contract", "external_id": "S-1"},
        content_type="application/json",
    )
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "duplicate"


def test_list_search_update_and_delete(api, alpha):
    for name in ("Carol", "alice", "Bob"):
        create_person(api, name)
    listing = api.get("/api/v1/people/").json()
    assert [p["name"] for p in listing["results"]] == ["alice", "Bob", "Carol"]
    assert api.get("/api/v1/people/?q=ALI").json()["count"] == 1
    carol = next(p for p in listing["results"] if p["name"] == "Carol")
    patched = api.patch(
        f"/api/v1/people/{carol['id']}/", {"notes": "Year 9"}, content_type="application/json"
    )
    assert patched.status_code == 200 and patched.json()["notes"] == "Year 9"
    assert api.delete(f"/api/v1/people/{carol['id']}/").status_code == 204
    assert api.get(f"/api/v1/people/{carol['id']}/").status_code == 404
    assert api.get("/api/v1/people/424242/").json()["code"] == "not-found"


def test_enrolling_a_photo_keeps_the_crop_quality_and_model(api, alpha):
    person = create_person(api, "Alice")
    response = enrol(api, person["id"], photo(ALICE, 1))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["source"] == "upload" and 0 < body["quality"] <= 1
    crop = api.get(body["image_url"])
    assert crop.status_code == 200
    with schema_context(alpha.schema_name):
        face = EnrolledFace.objects.get(pk=body["id"])
        assert face.face_model.embedding_dim == len(face.embedding) == 128
        assert Person.objects.get(pk=person["id"]).photo_id == face.pk
    detail = api.get(f"/api/v1/people/{person['id']}/").json()
    assert detail["face_count"] == 1 and detail["photo_url"]


def _side_by_side(*photos: bytes) -> bytes:
    """Two portraits in one photo: two faces of the same size."""
    images = [Image.open(io.BytesIO(p)).convert("RGB") for p in photos]
    canvas = Image.new("RGB", (sum(i.width for i in images), max(i.height for i in images)))
    x = 0
    for image in images:
        canvas.paste(image, (x, 0))
        x += image.width
    return _jpeg(canvas)


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=92)
    return out.getvalue()


@pytest.mark.parametrize(
    ("make", "code"),
    [
        (lambda: _jpeg(Image.linear_gradient("L").convert("RGB").resize((400, 300))), "no-face"),
        (lambda: _side_by_side(photo(ALICE, 1), photo(ALICE, 1)), "several-faces"),
        (lambda: _jpeg(Image.open(io.BytesIO(photo(ALICE, 1))).resize((64, 64))), "face-too-small"),
        (lambda: _jpeg(Image.open(io.BytesIO(photo(ALICE, 1))).filter(ImageFilter.GaussianBlur(4))),
         "face-blurred"),
    ],
    ids=["no-face", "two-equal-faces", "tiny-face", "blurred"],
)  # fmt: skip
def test_unusable_enrolment_photos_get_422_with_the_reason(api, make, code):
    data = make()
    person = create_person(api, "Alice")
    response = enrol(api, person["id"], data)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code and len(response.json()["detail"]) > 10


def test_bad_files_and_ids_are_4xx_never_500(api, alpha):
    person = create_person(api, "Alice")
    assert enrol(api, person["id"], b"not an image" * 50).json()["code"] == "unsupported-type"
    assert enrol(api, 999999, photo(ALICE, 1)).status_code == 404
    by_face = api.post(
        f"/api/v1/people/{person['id']}/faces/",
        {"face_id": 999999},
        content_type="application/json",
    )
    assert by_face.status_code == 404
    huge = api.post(
        f"/api/v1/people/{person['id']}/faces/",
        {"photo": upload(b"\xff\xd8\xff" + b"0" * (21 * 1024 * 1024))},
    )
    assert huge.status_code == 413


def test_enrolling_a_library_face_copies_its_stored_embedding(api, alpha, processing):
    from media_ingest.models import Face

    media = processing(
        lambda: api.post("/api/v1/media/", {"file": upload(photo(BOB, 1), "bob.jpg")})
    ).json()
    with schema_context(alpha.schema_name):
        face = Face.objects.get(media_id=media["id"])
    person = create_person(api, "Bob")
    response = api.post(
        f"/api/v1/people/{person['id']}/faces/",
        {"face_id": face.pk},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    with schema_context(alpha.schema_name):
        enrolled = EnrolledFace.objects.get(pk=response.json()["id"])
        assert enrolled.source == "catalogue" and enrolled.catalogue_face_id == face.pk
        assert np.allclose(enrolled.embedding, face.embedding)
    again = api.post(
        f"/api/v1/people/{person['id']}/faces/",
        {"face_id": face.pk},
        content_type="application/json",
    )
    assert again.status_code == 422 and again.json()["code"] == "duplicate"


def test_deleting_a_person_removes_their_embeddings_and_labels(api, alpha, processing):
    from django.core.files.storage import default_storage

    from media_ingest.models import Face

    media = processing(
        lambda: api.post("/api/v1/media/", {"file": upload(photo(ALICE, 3), "a.jpg")})
    ).json()
    person = create_person(api, "Alice")
    crop = enrol(api, person["id"], photo(ALICE, 1)).json()
    with schema_context(alpha.schema_name):
        face = Face.objects.get(media_id=media["id"])
    api.post(f"/api/v1/faces/{face.pk}/label/", {"person": person["id"]},
             content_type="application/json")  # fmt: skip
    with schema_context(alpha.schema_name):
        crop_name = EnrolledFace.objects.get(pk=crop["id"]).crop.name
        assert FaceLabel.objects.filter(person_id=person["id"]).exists()
    response = processing(lambda: api.delete(f"/api/v1/people/{person['id']}/"))
    assert response.status_code == 204
    with schema_context(alpha.schema_name):
        assert not EnrolledFace.objects.exists() and not FaceLabel.objects.exists()
        assert not default_storage.exists(crop_name)
        assert Face.objects.filter(pk=face.pk).exists()  # the library keeps its face


def test_viewers_read_people_but_cannot_add_or_enrol(alpha):
    from tests.people.conftest import token_client

    viewer = token_client(alpha, alpha.viewer)
    assert viewer.get("/api/v1/people/").status_code == 200
    refused = viewer.post(
        "/api/v1/people/",
        {"name": "X", "consent_basis": "consent"},
        content_type="application/json",
    )
    assert refused.status_code == 403
