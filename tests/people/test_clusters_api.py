"""People to name, end to end on real photos and the real engine: uploads are
grouped by person with no names given, then named, corrected, merged, hidden;
files and people deleted under them."""

from __future__ import annotations

import re

import pytest
from django_tenants.utils import schema_context

from media_ingest.models import Face
from people.models import CannotLink, ClusterFace, EnrolledFace, FaceLabel, FaceRejection
from tests.people.conftest import ALICE, BOB, STRANGER, create_person, enrol, photo, upload


@pytest.fixture
def library(api, alpha, processing):
    """Three photos each of two people and one of a stranger, uploaded without
    names; {key: media id}."""
    items = {f"a{n}": photo(ALICE, n) for n in (1, 2, 3)}
    items |= {f"b{n}": photo(BOB, n) for n in (1, 2, 3)}
    items["s1"] = photo(STRANGER, 1)
    ids = {}
    for key, data in items.items():
        response = processing(
            lambda d=data, k=key: api.post("/api/v1/media/", {"file": upload(d, f"{k}.jpg")})
        )
        ids[key] = response.json()["id"]
    return ids


def _text(response) -> str:
    """The page as a person reads it: no tags, single spaces."""
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


def _clusters(api, **params) -> list[dict]:
    response = api.get("/api/v1/clusters/", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _cluster_with(clusters, media_id) -> dict:
    return next(c for c in clusters if media_id in c["media_ids"])


def test_uploads_are_grouped_by_person_largest_first(api, library):
    clusters = _clusters(api)
    assert len(clusters) == 2
    alice = _cluster_with(clusters, library["a1"])
    bob = _cluster_with(clusters, library["b1"])
    assert sorted(alice["media_ids"]) == sorted(library[k] for k in ("a1", "a2", "a3"))
    assert sorted(bob["media_ids"]) == sorted(library[k] for k in ("b1", "b2", "b3"))
    assert alice["size"] == len(alice["face_ids"]) == 3
    assert alice["suggested_person"] is None
    assert [c["size"] for c in clusters] == sorted((c["size"] for c in clusters), reverse=True)
    assert all(library["s1"] not in c["media_ids"] for c in clusters)  # alone: pending


def test_the_page_shows_the_clusters_and_what_waits(alpha, library):
    page = alpha.client(alpha.viewer).get("/people/to-name/")
    assert page.status_code == 200
    text = _text(page)
    assert "2 groups of faces" in text and "1 face waiting" in text
    assert "Name or edit" not in text  # viewers look, operators name


def test_naming_a_cluster_labels_and_enrols_its_faces(api, alpha, library, processing):
    alice = _cluster_with(_clusters(api), library["a1"])
    named = processing(
        lambda: api.post(
            f"/api/v1/clusters/{alice['id']}/name/",
            {"name": "Angela", "consent_basis": "public_figure"},
            content_type="application/json",
        )
    )
    assert named.status_code == 200, named.content
    person = named.json()
    assert person["name"] == "Angela" and person["consent_basis"] == "public_figure"
    assert person["face_count"] >= 1 and person["appearance_count"] == 3
    assert api.get(f"/api/v1/clusters/{alice['id']}/").status_code == 404
    assert len(_clusters(api)) == 1
    with schema_context(alpha.schema_name):
        labels = FaceLabel.objects.filter(face_id__in=alice["face_ids"])
        assert {label.status for label in labels} == {"confirmed"}
        assert EnrolledFace.objects.filter(person_id=person["id"]).exists()

    # A new photo of her is now named by matching, not grouped as unknown.
    processing(lambda: api.post("/api/v1/media/", {"file": upload(photo(ALICE, 4), "a4.jpg")}))
    appearances = api.get(f"/api/v1/people/{person['id']}/appearances/").json()
    assert appearances["count"] == 4


def test_a_new_person_needs_a_consent_basis(api, library):
    alice = _cluster_with(_clusters(api), library["a1"])
    response = api.post(
        f"/api/v1/clusters/{alice['id']}/name/", {"name": "Angela"},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_removed_faces_are_never_put_back(api, alpha, library, processing):
    alice = _cluster_with(_clusters(api), library["a1"])
    wrong = alice["face_ids"][-1]
    left = api.post(
        f"/api/v1/clusters/{alice['id']}/remove/", {"face_ids": [wrong]},
        content_type="application/json",
    )  # fmt: skip
    assert left.status_code == 200 and wrong not in left.json()["face_ids"]
    processing(lambda: api.post("/api/v1/media/", {"file": upload(photo(ALICE, 4), "a4.jpg")}))
    grown = next(c for c in _clusters(api) if c["id"] == alice["id"])
    assert grown["size"] == 3 and wrong not in grown["face_ids"]
    with schema_context(alpha.schema_name):
        assert (
            CannotLink.objects.filter(other_id=wrong).exists()
            or CannotLink.objects.filter(face_id=wrong).exists()
        )
        assert ClusterFace.objects.get(face_id=wrong).cluster_id is None

    # Named, the cluster's "not the same" becomes "not this person" for suggestions.
    person = api.post(
        f"/api/v1/clusters/{alice['id']}/name/", {"name": "Angela", "consent_basis": "consent"},
        content_type="application/json",
    ).json()  # fmt: skip
    with schema_context(alpha.schema_name):
        assert FaceRejection.objects.filter(face_id=wrong, person_id=person["id"]).exists()

    stranger = api.post(
        f"/api/v1/clusters/{alice['id']}/remove/", {"face_ids": [wrong]},
        content_type="application/json",
    )  # fmt: skip
    assert stranger.status_code == 404  # named: the cluster is gone


def test_faces_not_in_the_cluster_are_refused(api, library):
    alice = _cluster_with(_clusters(api), library["a1"])
    bob = _cluster_with(_clusters(api), library["b1"])
    response = api.post(
        f"/api/v1/clusters/{alice['id']}/remove/", {"face_ids": [bob["face_ids"][0]]},
        content_type="application/json",
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "not-in-cluster"


def test_merge_split_and_hide(api, library):
    alice = _cluster_with(_clusters(api), library["a1"])
    bob = _cluster_with(_clusters(api), library["b1"])
    merged = api.post(
        f"/api/v1/clusters/{alice['id']}/merge/", {"other": bob["id"]},
        content_type="application/json",
    )  # fmt: skip
    assert merged.status_code == 200 and merged.json()["size"] == 6
    assert api.get(f"/api/v1/clusters/{bob['id']}/").status_code == 404

    split = api.post(
        f"/api/v1/clusters/{alice['id']}/split/", {"face_ids": bob["face_ids"]},
        content_type="application/json",
    )  # fmt: skip
    assert split.status_code == 200 and sorted(split.json()["face_ids"]) == sorted(bob["face_ids"])
    # Split apart means "not the same": merging them again is refused.
    again = api.post(
        f"/api/v1/clusters/{alice['id']}/merge/", {"other": split.json()["id"]},
        content_type="application/json",
    )  # fmt: skip
    assert again.status_code == 409 and again.json()["code"] == "cannot-link"

    hidden = api.post(f"/api/v1/clusters/{alice['id']}/hide/", {}, content_type="application/json")
    assert hidden.json()["hidden"] is True
    assert [c["id"] for c in _clusters(api)] == [split.json()["id"]]
    assert [c["id"] for c in _clusters(api, hidden="true")] == [alice["id"]]


def test_a_cluster_like_an_enrolled_person_suggests_them_until_told_no(api, library, processing):
    bob_person = create_person(api, "Vladimir")
    processing(lambda: enrol(api, bob_person["id"], photo(BOB, 5)))
    bob = _cluster_with(_clusters(api), library["b1"])
    suggestion = bob["suggested_person"]
    assert suggestion["id"] == bob_person["id"] and suggestion["name"] == "Vladimir"
    assert suggestion["faces"] >= 2
    assert _cluster_with(_clusters(api), library["a1"])["suggested_person"] is None

    rejected = processing(
        lambda: api.post(
            f"/api/v1/clusters/{bob['id']}/reject/", {"person": bob_person["id"]},
            content_type="application/json",
        )
    )  # fmt: skip
    assert rejected.json()["suggested_person"] is None
    processing(lambda: enrol(api, bob_person["id"], photo(BOB, 6)))  # matching runs again
    assert _cluster_with(_clusters(api), library["b1"])["suggested_person"] is None


def test_deleting_files_shrinks_then_dissolves_a_cluster(api, library, processing):
    alice = _cluster_with(_clusters(api), library["a1"])
    processing(lambda: api.delete(f"/api/v1/media/{library['a1']}/"))
    shrunk = api.get(f"/api/v1/clusters/{alice['id']}/").json()
    assert shrunk["size"] == 2 and library["a1"] not in shrunk["media_ids"]
    processing(lambda: api.delete(f"/api/v1/media/{library['a2']}/"))
    assert api.get(f"/api/v1/clusters/{alice['id']}/").status_code == 404
    assert all(library["a3"] not in c["media_ids"] for c in _clusters(api))


@pytest.mark.parametrize("erase", [False, True])
def test_deleting_a_person_returns_their_faces_unless_erased(
    api, alpha, library, processing, erase
):
    alice = _cluster_with(_clusters(api), library["a1"])
    person = api.post(
        f"/api/v1/clusters/{alice['id']}/name/", {"name": "Angela", "consent_basis": "consent"},
        content_type="application/json",
    ).json()  # fmt: skip
    suffix = "?erase=true" if erase else ""
    deleted = processing(lambda: api.delete(f"/api/v1/people/{person['id']}/{suffix}"))
    assert deleted.status_code == 204
    back = [c for c in _clusters(api) if library["a1"] in c["media_ids"]]
    if erase:
        assert back == []
        with schema_context(alpha.schema_name):
            assert (
                ClusterFace.objects.filter(face_id__in=alice["face_ids"], kept_out=True).count()
                == 3
            )
    else:
        assert len(back) == 1 and sorted(back[0]["face_ids"]) == sorted(alice["face_ids"])


def test_low_quality_faces_stay_out_and_are_counted(api, alpha, library):
    with schema_context(alpha.schema_name):
        face = Face.objects.filter(media_id=library["b1"]).first()
        Face.objects.filter(pk=face.pk).update(quality=0.05)
    page = alpha.client(alpha.owner).get("/people/to-name/")
    assert "1 too small or blurred" in _text(page)
