"""Who is this? Real photos, the real engine: names, a first-class unknown,
the audit, and the calibrated threshold."""

from __future__ import annotations

import numpy as np
import pytest
from django_tenants.utils import schema_context

from people.calibration import best_impostor_scores, calibrate, threshold_for
from people.models import IdentifyAudit
from tests.media_ingest.conftest import shared_file
from tests.people.conftest import (
    ALICE,
    BOB,
    CAROL,
    STRANGER,
    create_person,
    enrol,
    photo,
    upload,
)


@pytest.fixture
def gallery(api):
    """Three people, two photos each."""
    people = {}
    for name in (ALICE, BOB, CAROL):
        person = create_person(api, name.replace("_", " "))
        for number in (1, 2):
            assert enrol(api, person["id"], photo(name, number)).status_code == 201
        people[name] = person
    return people


def _identify(api, data: bytes):
    response = api.post("/api/v1/identify/", {"photo": upload(data)})
    assert response.status_code == 200, response.content
    return response.json()


def test_a_third_photo_is_named_and_a_stranger_is_unknown(api, gallery):
    answer = _identify(api, photo(ALICE, 4))
    [face] = answer["faces"]
    assert face["person"] == {"id": gallery[ALICE]["id"], "name": "Angela Merkel"}
    assert face["similarity"] >= face["threshold"]
    assert face["candidates"][0]["person"]["id"] == gallery[ALICE]["id"]
    assert answer["model"] and answer["elapsed_ms"] > 0

    [stranger] = _identify(api, photo(STRANGER, 1))["faces"]
    assert stranger["person"] is None
    assert stranger["candidates"], "candidates are shown even for an unknown face"
    assert stranger["candidates"][0]["similarity"] < stranger["threshold"]


def test_with_nobody_enrolled_every_face_is_unknown(api):
    answer = _identify(api, shared_file("groups", "facerec_obama_and_biden.jpg").read_bytes())
    assert len(answer["faces"]) >= 2
    assert all(f["person"] is None and f["candidates"] == [] for f in answer["faces"])


def test_every_identification_is_audited_without_the_image(api, alpha, gallery):
    _identify(api, photo(BOB, 3))
    with schema_context(alpha.schema_name):
        [audit] = IdentifyAudit.objects.all()
        assert audit.face_count == 1
        assert audit.results[0]["person_id"] == gallery[BOB]["id"]
        assert audit.user.email == alpha.owner.email
        assert not any(isinstance(v, bytes | bytearray) for v in audit.__dict__.values())


def test_bad_identify_input_is_a_4xx(api):
    assert api.post("/api/v1/identify/", {}).json()["code"] == "missing-file"
    bad = api.post("/api/v1/identify/", {"photo": upload(b"hello" * 100)})
    assert bad.status_code == 400 and bad.json()["code"] == "unsupported-type"


def test_identify_is_throttled_per_member(api, settings):
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "identify": "1/min"}
    api.post("/api/v1/identify/", {})
    throttled = api.post("/api/v1/identify/", {})
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"


def test_threshold_is_the_quantile_of_the_best_impostor_scores():
    rng = np.random.default_rng(1)
    impostors = rng.uniform(0, 1, 10_000)
    threshold, far = threshold_for(impostors, 0.01)
    assert far == pytest.approx(0.01, abs=0.0005)
    assert threshold == pytest.approx(0.99, abs=0.005)
    # Too few to show one: the estimate is one in the sample's size, not 0.
    assert threshold_for(impostors[:50], 0.001)[1] == pytest.approx(1 / 50)


def test_best_impostor_ignores_the_persons_own_faces():
    embeddings = np.eye(4, dtype=np.float32)
    embeddings[1] = embeddings[0]  # person 7 twice, identical
    people = np.array([7, 7, 8, 9])
    assert best_impostor_scores(embeddings, people).tolist() == [0.0, 0.0, 0.0, 0.0]


def test_calibration_waits_for_enough_people_then_follows_the_gallery(alpha, model):
    from django.utils import timezone

    from people.models import EnrolledFace, Person

    rng = np.random.default_rng(5)
    with schema_context(alpha.schema_name):
        default = calibrate(model)
        assert default.threshold == model.match_threshold and default.estimated_far is None
        for n in range(30):
            person = Person.objects.create(
                name=f"P{n}", consent_basis="consent", consent_recorded_at=timezone.now()
            )
            centre = rng.standard_normal(128)
            for _ in range(3):
                v = centre + 0.3 * rng.standard_normal(128)
                EnrolledFace.objects.create(
                    person=person, face_model=model, source="upload", box=[0, 0, 1, 1],
                    quality=1, crop="x.jpg", embedding=(v / np.linalg.norm(v)).tolist(),
                )  # fmt: skip
        record = calibrate(model, target_far=0.05)
    assert record.people == 30 and record.impostor_scores == 90
    assert 1 / 90 <= record.estimated_far <= 0.05
    assert record.threshold != model.match_threshold


def test_an_identified_face_can_be_enrolled_by_its_number(api, gallery):
    data = photo(CAROL, 3)
    [face] = _identify(api, data)["faces"]
    person = gallery[CAROL]["id"]
    ok = api.post(f"/api/v1/people/{person}/faces/", {"photo": upload(data), "face_index": 0})
    assert ok.status_code == 201, ok.content
    missing = api.post(f"/api/v1/people/{person}/faces/", {"photo": upload(data), "face_index": 3})
    assert missing.status_code == 422 and missing.json()["code"] == "no-such-face"
    assert face["person"]["id"] == person


def test_not_them_on_an_identified_face_is_kept_and_honoured(api, alpha, gallery):
    from people.models import IdentifyRejection

    data = photo(ALICE, 4)
    [named] = _identify(api, data)["faces"]
    alice = gallery[ALICE]["id"]
    assert named["person"]["id"] == alice
    rejected = api.post(
        "/api/v1/identify/reject/", {"photo": upload(data), "face_index": 0, "not_person": alice}
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    [again] = _identify(api, data)["faces"]
    assert again["person"] is None or again["person"]["id"] != alice
    assert alice not in [c["person"]["id"] for c in again["candidates"]]
    with schema_context(alpha.schema_name):
        assert IdentifyRejection.objects.filter(person_id=alice).count() == 1
    # Another, unrelated face is still named as before.
    [bob] = _identify(api, photo(BOB, 4))["faces"]
    assert bob["person"]["id"] == gallery[BOB]["id"]
    bad = api.post("/api/v1/identify/reject/", {"photo": upload(data), "face_index": 0})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"


def test_a_merge_carries_the_identification_log_and_a_delete_unnames_it(api, alpha, gallery):
    _identify(api, photo(BOB, 3))
    bob = gallery[BOB]["id"]
    other = create_person(api, "V. Putin")
    merged = api.post(
        f"/api/v1/people/{other['id']}/merge/", {"other": bob}, content_type="application/json"
    )
    assert merged.status_code == 200
    with schema_context(alpha.schema_name):
        assert IdentifyAudit.objects.get().results[0]["person_id"] == other["id"]
    api.delete(f"/api/v1/people/{other['id']}/")
    with schema_context(alpha.schema_name):
        assert IdentifyAudit.objects.get().results[0]["person_id"] is None
