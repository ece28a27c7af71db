"""Face search through the API on real photos, end to end (upload → faces → search)."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken

from media_ingest import services as ingest
from media_ingest.models import Face, MediaFile, Source
from search.models import SearchAudit
from tenants.tasks import run_tenant_task
from tests.media_ingest.conftest import shared_file

PERSON = "Vladimir_Putin"
STRANGERS = ["Venus_Williams", "Yasser_Arafat", "Al_Gore", "Angela_Merkel"]


def _photo(name: str, number: int) -> bytes:
    return shared_file("identities", name, f"{name}_{number:04d}.jpg").read_bytes()


def _ingest(setup, name: str, data: bytes, source: str = Source.API) -> int:
    with schema_context(setup.schema_name):
        job = ingest.job_create(source=source)
        media = ingest.media_accept(
            stream=io.BytesIO(data), name=name, source=source, job=job
        ).media
    run_tenant_task(setup.schema_name, "media_ingest.tasks.process_media", media.pk)
    return media.pk


def _client(setup, account) -> Client:
    with schema_context(setup.schema_name):
        _, token = AuthToken.objects.create(setup.user(account))
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Token {token}")


def _search(client: Client, data: dict):
    if "image" in data:
        image = io.BytesIO(data.pop("image"))
        image.name = "query.jpg"
        data["image"] = image
    return client.post("/api/v1/search/", data)


@pytest.fixture
def library(alpha):
    """Three photos of the person and one each of four strangers, in alpha."""
    media = {
        f"{PERSON}_{n}": _ingest(alpha, f"{PERSON}_{n}.jpg", _photo(PERSON, n)) for n in (1, 2, 3)
    }
    for name in STRANGERS:
        media[name] = _ingest(alpha, f"{name}.jpg", _photo(name, 1), source=Source.WATCH)
    return media


def test_the_persons_other_photos_rank_above_strangers(alpha, library):
    reply = _search(
        _client(alpha, alpha.viewer), {"image": _photo(PERSON, 4), "threshold": -1, "top_k": 50}
    )
    assert reply.status_code == 200, reply.content
    body = reply.json()
    ranked = [hit["media_id"] for hit in body["results"]]
    own = {library[f"{PERSON}_{n}"] for n in (1, 2, 3)}
    assert set(ranked[:3]) == own
    sims = [hit["similarity"] for hit in body["results"]]
    assert sims == sorted(sims, reverse=True)
    hit = body["results"][0]
    assert hit["crop_url"].startswith("/api/v1/faces/") and hit["media_url"].startswith("/library/")
    assert body["query"]["source"] == "image" and len(body["query"]["box"]) == 4


def test_the_default_threshold_keeps_the_person_and_drops_strangers(alpha, library):
    body = _search(_client(alpha, alpha.viewer), {"image": _photo(PERSON, 4)}).json()
    found = {hit["media_id"] for hit in body["results"]}
    assert found == {library[f"{PERSON}_{n}"] for n in (1, 2, 3)}
    assert body["threshold"] == pytest.approx(0.91)


def test_search_from_a_stored_face_and_filters(alpha, library):
    with schema_context(alpha.schema_name):
        face_id = Face.objects.filter(media_id=library[f"{PERSON}_1"]).values_list("pk", flat=True)[
            0
        ]
    client = _client(alpha, alpha.viewer)
    body = _search(client, {"face_id": face_id, "threshold": -1, "top_k": 50}).json()
    assert body["results"][0]["face_id"] == face_id  # itself, similarity 1
    assert body["results"][0]["similarity"] == pytest.approx(1.0, abs=1e-3)
    watch_only = _search(client, {"face_id": face_id, "threshold": -1, "source": "watch"}).json()
    assert {hit["media_id"] for hit in watch_only["results"]} == {library[n] for n in STRANGERS}
    videos = _search(client, {"face_id": face_id, "threshold": -1, "kind": "video"}).json()
    assert videos["results"] == []


def test_every_search_is_audited_without_the_image(alpha, library):
    client = _client(alpha, alpha.viewer)
    _search(client, {"image": _photo(PERSON, 4), "top_k": 5})
    with schema_context(alpha.schema_name):
        audit = SearchAudit.objects.get()
        assert audit.user.email == alpha.viewer.email
        assert audit.query_kind == "image" and audit.result_count == 3
        assert audit.options["top_k"] == 5 and audit.options["threshold"] == pytest.approx(0.91)
        assert not any(isinstance(v, bytes | bytearray) for v in audit.options.values())
    log = alpha.client(alpha.owner).get("/search/log/")
    assert log.status_code == 200 and alpha.viewer.email.encode() in log.content
    assert alpha.client(alpha.viewer).get("/search/log/").status_code == 403


def test_results_are_cached_until_the_tenants_faces_change(
    alpha, library, django_capture_on_commit_callbacks
):
    client = _client(alpha, alpha.viewer)
    first = _search(client, {"image": _photo(PERSON, 4)}).json()
    again = _search(client, {"image": _photo(PERSON, 4)}).json()
    assert not first["cached"] and again["cached"]
    assert again["results"] == first["results"]
    # The cache forgets once the new file's faces are committed.
    with django_capture_on_commit_callbacks(execute=True):
        new_media = _ingest(alpha, "another.jpg", _photo(PERSON, 5))
    after = _search(client, {"image": _photo(PERSON, 4)}).json()
    assert not after["cached"]
    assert new_media in {hit["media_id"] for hit in after["results"]}


def test_a_tenant_never_finds_another_tenants_faces(alpha, beta, library):
    # The very same photo in beta: identical embeddings, separate schemas.
    beta_media = _ingest(beta, f"{PERSON}_1.jpg", _photo(PERSON, 1))
    alpha_hits = _search(
        _client(alpha, alpha.viewer), {"image": _photo(PERSON, 1), "threshold": -1, "top_k": 200}
    ).json()["results"]
    beta_hits = _search(
        _client(beta, beta.viewer), {"image": _photo(PERSON, 1), "threshold": -1, "top_k": 200}
    ).json()["results"]
    assert {h["media_id"] for h in beta_hits} == {beta_media}
    with schema_context(alpha.schema_name):
        alpha_faces = set(Face.objects.values_list("pk", flat=True))
    # Threshold -1: every alpha face is returned, and nothing else.
    assert {h["face_id"] for h in alpha_hits} == alpha_faces


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "either"),
        ({"image": b"not an image"}, "image"),
        ({"face_id": 999999}, "No such face"),
        ({"face_id": 1, "top_k": 500}, "less than or equal"),
    ],
)
def test_bad_queries_get_a_reason(alpha, data, message):
    reply = _search(_client(alpha, alpha.viewer), dict(data))
    assert reply.status_code == 400
    assert message.lower() in reply.content.decode().lower()


def test_a_photo_without_a_face_says_so(alpha):
    empty = sorted(shared_file("nofaces").glob("*.jpg"))[0].read_bytes()
    reply = _search(_client(alpha, alpha.viewer), {"image": empty})
    assert reply.status_code == 400 and "No face" in reply.json()["detail"]


def test_search_page_and_find_this_person_link(alpha, library):
    client = alpha.client(alpha.viewer)
    page = client.get("/search/")
    assert page.status_code == 200 and b"data-search-form" in page.content
    assert b"/search/?face_id=" in client.get("/faces/").content
    with schema_context(alpha.schema_name):
        assert MediaFile.objects.count() == len(library)


def test_the_query_photos_own_stored_face_is_marked(alpha, library):
    """The photo searched with is in the library: its face is the top hit, marked."""
    client = _client(alpha, alpha.viewer)
    body = _search(client, {"image": _photo(PERSON, 1), "threshold": -1, "top_k": 10}).json()
    own = [hit for hit in body["results"] if hit["is_query_face"]]
    assert [hit["media_id"] for hit in own] == [library[f"{PERSON}_1"]]
    assert body["query"]["stored_face_id"] == own[0]["face_id"]
    assert body["query"]["size"] == [250, 250]  # the boxes' frame, for the page to draw
    assert body["model"]["match_threshold"] == pytest.approx(0.91)
    other = _search(client, {"image": _photo(PERSON, 4), "threshold": -1}).json()
    assert other["query"]["stored_face_id"] is None
    assert not any(hit["is_query_face"] for hit in other["results"])
    by_face = _search(client, {"face_id": own[0]["face_id"], "threshold": -1}).json()
    assert [h["face_id"] for h in by_face["results"] if h["is_query_face"]] == [own[0]["face_id"]]
    assert by_face["query"]["image_url"].startswith("/media/originals/")
