"""Names across the catalogue: suggestions, confirmations that stick,
rejections kept for good, merges, appearances, the person filter."""

from __future__ import annotations

from django_tenants.utils import schema_context

from media_ingest.models import Face
from people.models import EnrolledFace, FaceLabel, FaceRejection
from tests.people.conftest import ALICE, BOB, create_person, enrol, photo, upload


def _library(api, processing, items):
    """Upload and process photos; their face ids by name."""
    ids = {}
    for key, data in items.items():
        media = processing(
            lambda d=data, k=key: api.post("/api/v1/media/", {"file": upload(d, f"{k}.jpg")})
        ).json()
        ids[key] = media["id"]
    return ids


def _face_of(alpha, media_id: int) -> int:
    with schema_context(alpha.schema_name):
        return Face.objects.get(media_id=media_id).pk


def test_enrolling_names_the_library_and_new_files_are_named_too(api, alpha, processing):
    media = _library(api, processing, {"a3": photo(ALICE, 3), "b1": photo(BOB, 1)})
    alice = create_person(api, "Alice")
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 1)))  # runs the matching task
    appearances = api.get(f"/api/v1/people/{alice['id']}/appearances/").json()
    assert [a["media_id"] for a in appearances["results"]] == [media["a3"]]
    first = appearances["results"][0]
    assert first["status"] == "suggested" and first["similarity"] > 0.9
    assert first["face_id"] == _face_of(alpha, media["a3"])

    later = _library(api, processing, {"a4": photo(ALICE, 4)})  # matched when processed
    appearances = api.get(f"/api/v1/people/{alice['id']}/appearances/").json()
    assert {a["media_id"] for a in appearances["results"]} == {media["a3"], later["a4"]}

    detail = api.get(f"/api/v1/media/{later['a4']}/").json()
    assert detail["faces"]
    page = alpha.client(alpha.owner).get(f"/library/{later['a4']}/")
    assert b"Alice" in page.content and b"suggested" in page.content


def test_a_rejected_pair_is_never_proposed_again(api, alpha, processing):
    media = _library(api, processing, {"a3": photo(ALICE, 3)})
    face_id = _face_of(alpha, media["a3"])
    alice = create_person(api, "Alice")
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 1)))
    with schema_context(alpha.schema_name):
        assert FaceLabel.objects.get(face_id=face_id).person_id == alice["id"]
    rejected = api.post(
        f"/api/v1/faces/{face_id}/label/", {"not_person": alice["id"]},
        content_type="application/json",
    )  # fmt: skip
    assert rejected.json()["status"] == "rejected"
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 2)))  # matching runs again
    with schema_context(alpha.schema_name):
        assert not FaceLabel.objects.filter(face_id=face_id).exists()
        assert FaceRejection.objects.filter(face_id=face_id, person_id=alice["id"]).exists()


def test_a_confirmation_sticks_and_can_enrol_the_face(api, alpha, processing):
    media = _library(api, processing, {"b1": photo(BOB, 1)})
    face_id = _face_of(alpha, media["b1"])
    bob = create_person(api, "Bob")
    confirmed = processing(
        lambda: api.post(
            f"/api/v1/faces/{face_id}/label/", {"person": bob["id"], "enrol": True},
            content_type="application/json",
        )
    )  # fmt: skip
    assert confirmed.json() == {"face_id": face_id, "person_id": bob["id"], "status": "confirmed"}
    with schema_context(alpha.schema_name):
        assert EnrolledFace.objects.get(person_id=bob["id"]).source == "confirmed"
    # Another person enrolled later does not take a confirmed face.
    other = create_person(api, "Look-alike")
    processing(lambda: enrol(api, other["id"], photo(BOB, 2)))
    with schema_context(alpha.schema_name):
        label = FaceLabel.objects.get(face_id=face_id)
        assert (label.person_id, label.status) == (bob["id"], "confirmed")


def test_merging_moves_faces_labels_and_appearances(api, alpha, processing):
    media = _library(api, processing, {"a3": photo(ALICE, 3)})
    first = create_person(api, "Alice")
    second = create_person(api, "A. Merkel")
    processing(lambda: enrol(api, first["id"], photo(ALICE, 1)))
    processing(lambda: enrol(api, second["id"], photo(ALICE, 2)))
    merged = processing(
        lambda: api.post(
            f"/api/v1/people/{first['id']}/merge/", {"other": second["id"]},
            content_type="application/json",
        )
    ).json()  # fmt: skip
    assert merged["face_count"] == 2
    assert api.get(f"/api/v1/people/{second['id']}/").status_code == 404
    appearances = api.get(f"/api/v1/people/{first['id']}/appearances/").json()
    assert [a["media_id"] for a in appearances["results"]] == [media["a3"]]


def test_search_finds_photos_of_a_person_and_the_face_browser_filters(api, alpha, processing):
    media = _library(api, processing, {"a3": photo(ALICE, 3), "b1": photo(BOB, 1)})
    alice = create_person(api, "Alice")
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 1)))
    query = api.post(
        "/api/v1/search/",
        {"image": upload(photo(BOB, 2)), "threshold": -1, "person": alice["id"]},
    ).json()
    assert {r["media_id"] for r in query["results"]} == {media["a3"]}
    page = alpha.client(alpha.owner).get(f"/faces/?person={alice['id']}")
    assert page.content.count(b"/api/v1/faces/") == 1
    unknown = alpha.client(alpha.owner).get("/faces/?person=unknown")
    assert unknown.content.count(b"/api/v1/faces/") == 1


def test_suggestions_honour_a_not_them_said_on_an_identification(api, alpha, processing):
    alice = create_person(api, "Alice")
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 1)))
    api.post(
        "/api/v1/identify/reject/",
        {"photo": upload(photo(ALICE, 3)), "face_index": 0, "not_person": alice["id"]},
    )
    media = _library(api, processing, {"a3": photo(ALICE, 3), "b1": photo(BOB, 1)})
    with schema_context(alpha.schema_name):
        assert not FaceLabel.objects.filter(face__media_id=media["a3"]).exists()
    processing(lambda: enrol(api, alice["id"], photo(ALICE, 2)))  # matching from the gallery too
    with schema_context(alpha.schema_name):
        assert not FaceLabel.objects.filter(face__media_id=media["a3"]).exists()
