"""The People pages, "Who is this?" and labels on the media page."""

from __future__ import annotations

from django_tenants.utils import schema_context

from media_ingest.models import Face
from people.models import FaceLabel, Person
from tests.people.conftest import ALICE, create_person, photo, upload


def test_people_list_has_an_empty_state_search_and_pagination(alpha, api):
    client = alpha.client(alpha.owner)
    empty = client.get("/people/")
    assert b"No people yet" in empty.content and b'href="/people/new/"' in empty.content
    for n in range(30):
        create_person(api, f"Person {n:02d}")
    first = client.get("/people/")
    assert first.content.count(b'class="tile"') == 24 and b"Page 1 of 2" in first.content
    found = client.get("/people/?q=person 07")
    assert found.content.count(b'class="tile"') == 1
    assert b"Nobody matches" in client.get("/people/?q=zzz").content


def test_adding_a_person_in_the_portal_records_the_consent(alpha):
    client = alpha.client(alpha.owner)
    refused = client.post("/people/new/", {"name": "Alice", "consent_basis": "other"})
    assert refused.status_code == 200 and b"Say what the basis is" in refused.content
    added = client.post(
        "/people/new/", {"name": "Alice", "consent_basis": "contract", "external_id": "E7"}
    )
    assert added.status_code == 302
    with schema_context(alpha.schema_name):
        person = Person.objects.get(name="Alice")
        assert person.consent_recorded_by.email == alpha.owner.email
    page = client.get(added["Location"])
    assert b"Contract" in page.content and b"No face enrolled yet" in page.content


def test_enrolling_from_the_person_page_and_its_refusals(alpha, api, processing):
    person = create_person(api, "Alice")
    client = alpha.client(alpha.owner)
    ok = processing(
        lambda: client.post(
            f"/people/{person['id']}/enrol/", {"photo": upload(photo(ALICE, 1))}, follow=True
        )
    )
    assert b"Enrolled the face" in ok.content
    refused = client.post(
        f"/people/{person['id']}/enrol/", {"photo": upload(b"nope" * 200)}, follow=True
    )
    assert b"Not enrolled" in refused.content


def test_viewers_see_people_but_not_the_forms(alpha, api):
    person = create_person(api, "Alice")
    viewer = alpha.client(alpha.viewer)
    page = viewer.get(f"/people/{person['id']}/")
    assert page.status_code == 200 and b"data-webcam-enrol" not in page.content
    assert viewer.get("/people/new/").status_code == 403
    assert viewer.post(f"/people/{person['id']}/delete/").status_code == 403


def test_the_media_page_names_faces_and_takes_labels(alpha, api, processing):
    media = processing(
        lambda: api.post("/api/v1/media/", {"file": upload(photo(ALICE, 3), "a.jpg")})
    ).json()
    person = create_person(api, "Alice")
    client = alpha.client(alpha.owner)
    page = client.get(f"/library/{media['id']}/")
    assert b"This is" in page.content  # the label form, with the people to choose from
    with schema_context(alpha.schema_name):
        face = Face.objects.get(media_id=media["id"])
    client.post(
        f"/faces/{face.pk}/label/",
        {"person": person["id"], "next": f"/library/{media['id']}/"},
    )
    page = client.get(f"/library/{media['id']}/")
    assert b'class="face-name">Alice' in page.content
    client.post(f"/faces/{face.pk}/label/", {"not_person": person["id"]})
    with schema_context(alpha.schema_name):
        assert not FaceLabel.objects.exists()


def test_who_is_this_page_and_its_log(alpha, api):
    client = alpha.client(alpha.owner)
    page = client.get("/identify/")
    assert page.status_code == 200 and b"data-identify-form" in page.content
    assert b"the model's default" in page.content
    api.post("/api/v1/identify/", {"photo": upload(photo(ALICE, 1))})
    log = client.get("/identify/log/")
    assert b"unknown" in log.content
    assert alpha.client(alpha.viewer).get("/identify/log/").status_code == 403


def test_owners_pick_the_target_far_and_see_the_estimate(alpha):
    client = alpha.client(alpha.owner)
    page = client.get("/people/threshold/")
    assert page.status_code == 200 and b"Not yet" in page.content
    done = client.post("/people/threshold/", {"target_far": "0.01"}, follow=True)
    assert b"Recalibrated" in done.content
    assert client.post("/people/threshold/", {"target_far": "0.5"}, follow=True).status_code == 200
    assert alpha.client(alpha.viewer).get("/people/threshold/").status_code == 403
