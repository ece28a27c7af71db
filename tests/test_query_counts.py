"""Queries per request on the hot endpoints, pinned (tests/querycount.py).

Each count holds whatever the number of rows: the lists are measured with
several files, faces and tracks, and a second, larger set must cost the same.
"""

from __future__ import annotations

import numpy as np
import pytest
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken

from media_ingest.models import FaceTrack
from search import cache as search_cache
from tests import factories
from tests.querycount import assert_query_count


def _catalogue(model, files: int, faces_per_file: int) -> list:
    rng = np.random.default_rng(files)
    media = []
    for _ in range(files):
        item = factories.media_file(kind="video", face_count=faces_per_file)
        for ordinal in range(faces_per_file):
            track = FaceTrack.objects.create(
                media=item, ordinal=ordinal, first_time_s=ordinal, last_time_s=ordinal + 1,
                frame_count=3,
            )  # fmt: skip
            vector = rng.standard_normal(128).astype(np.float32)
            factories.face(
                media=item, face_model=model, embedding=vector / np.linalg.norm(vector),
                ordinal=ordinal, track=track,
            ).save()  # fmt: skip
        media.append(item)
    return media


@pytest.fixture
def api(alpha):
    with schema_context(alpha.schema_name):
        _, token = AuthToken.objects.create(alpha.user(alpha.owner))
    return Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Token {token}")


# Tenant by host; token; the member's role; then the endpoint's own queries.
TOKEN_REQUEST = 4


@pytest.mark.parametrize("files", [3, 12])
def test_media_list(alpha, api, model, files):
    with schema_context(alpha.schema_name):
        _catalogue(model, files, 2)
    with assert_query_count(TOKEN_REQUEST + 2):  # count, page
        response = api.get("/api/v1/media/")
    assert response.status_code == 200 and response.json()["count"] == files


def test_uploading_a_photo(alpha, api, model, django_capture_on_commit_callbacks):
    """The upload API, queueing included. The storage quota reads the tenant
    that came with the domain, not a second copy of it."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from skimage import data as images

    from tests.media_ingest.conftest import jpeg_bytes

    photo = jpeg_bytes(np.ascontiguousarray(images.astronaut()))
    # The upload's job; the same bytes already here?; the file's row and the
    # job's count (in a savepoint here, a transaction in production); the task.
    with assert_query_count(TOKEN_REQUEST + 7), django_capture_on_commit_callbacks(execute=True):
        response = api.post(
            "/api/v1/media/", {"file": SimpleUploadedFile("astronaut.jpg", photo, "image/jpeg")}
        )
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("faces", [2, 9])
def test_media_detail_with_its_faces_and_tracks(alpha, api, model, faces):
    with schema_context(alpha.schema_name):
        [media] = _catalogue(model, 1, faces)
    with assert_query_count(TOKEN_REQUEST + 3):  # the file, its faces, its tracks + best faces
        response = api.get(f"/api/v1/media/{media.pk}/")
    body = response.json()
    assert len(body["faces"]) == faces and len(body["tracks"]) == faces
    assert all(track["face_id"] for track in body["tracks"])


@pytest.mark.parametrize("files", [2, 8])
def test_face_browser_page(alpha, model, files):
    with schema_context(alpha.schema_name):
        _catalogue(model, files, 3)
    client = alpha.client(alpha.owner)
    # Tenant, session, user, role; the page: count + faces, their names, the people
    # to filter by (the navigation reuses the role).
    with assert_query_count(8):
        response = client.get("/faces/")
    assert response.status_code == 200


@pytest.mark.parametrize("files", [2, 8])
def test_library_page(alpha, model, files):
    with schema_context(alpha.schema_name):
        _catalogue(model, files, 2)
    client = alpha.client(alpha.owner)
    # Tenant, session, user, role; count, the page of files (thumbnail URLs need none).
    with assert_query_count(6):
        response = client.get("/library/")
    assert response.status_code == 200


def test_face_crop(alpha, api, model):
    with schema_context(alpha.schema_name):
        [media] = _catalogue(model, 1, 1)
        face = media.faces.get()
    with assert_query_count(TOKEN_REQUEST + 1):  # the crop's name
        response = api.get(f"/api/v1/faces/{face.pk}/image")
    assert response.status_code == 404  # the factory's crop is not on disk


@pytest.mark.parametrize("files", [2, 8])
def test_recent_activity(alpha, api, model, files):
    with schema_context(alpha.schema_name):
        _catalogue(model, files, 1)
    with assert_query_count(TOKEN_REQUEST + 2):  # latest files, jobs with refusals
        response = api.get("/api/v1/activity/")
    assert len(response.json()) == files


@pytest.mark.parametrize("tracks", [2, 9])
def test_video_page_with_its_lanes(alpha, model, tracks):
    with schema_context(alpha.schema_name):
        [media] = _catalogue(model, 1, tracks)
    client = alpha.client(alpha.owner)
    # Tenant, session, user, role; the file, its faces, its tracks + best faces;
    # the names (people); the best faces' embeddings for the lanes.
    with assert_query_count(10):
        response = client.get(f"/library/{media.pk}/")
    assert response.status_code == 200


@pytest.mark.parametrize("files", [2, 8])
def test_search_by_stored_face(alpha, api, model, files):
    with schema_context(alpha.schema_name):
        media = _catalogue(model, files, 3)
        face_id = media[0].faces.first().pk
        search_cache.faces_changed()  # the generation exists once any file is stored
    # The throttle's count in the cache (read, cull count, savepoint, read, write,
    # release); the tenant's model (its choice or the default, one query); the
    # query face; the cache generation and result; the plan estimate; the
    # search (its settings, the query and their reset in one round trip); the
    # hits' rows; the cache write (5, as the throttle's); the audit row.
    with assert_query_count(TOKEN_REQUEST + 19):
        response = api.post(
            "/api/v1/search/",
            {"face_id": face_id, "threshold": -1},
            content_type="application/json",
        )
    assert response.status_code == 200 and response.json()["results"]


@pytest.mark.parametrize("people", [3, 15])
def test_people_list(alpha, api, model, people):
    from django.utils import timezone

    from people.models import EnrolledFace, Person

    with schema_context(alpha.schema_name):
        for n in range(people):
            person = Person.objects.create(
                name=f"P{n}", consent_basis="consent", consent_recorded_at=timezone.now()
            )
            face = EnrolledFace.objects.create(
                person=person, face_model=model, source="upload", box=[0, 0, 1, 1],
                quality=1, crop=f"c{n}.jpg", embedding=[0.1] * 128,
            )  # fmt: skip
            Person.objects.filter(pk=person.pk).update(photo=face)
    with assert_query_count(TOKEN_REQUEST + 2):  # count, the page with photos and counts
        response = api.get("/api/v1/people/")
    assert response.json()["count"] == people


@pytest.mark.parametrize("files", [2, 9])
def test_person_appearances(alpha, api, model, files):
    from django.utils import timezone

    from people.models import FaceLabel, Person

    with schema_context(alpha.schema_name):
        person = Person.objects.create(
            name="P", consent_basis="consent", consent_recorded_at=timezone.now()
        )
        for item in _catalogue(model, files, 1):
            FaceLabel.objects.create(face=item.faces.first(), person=person, status="suggested")
    # The person; count; the page of labels with their faces and files.
    with assert_query_count(TOKEN_REQUEST + 3):
        response = api.get(f"/api/v1/people/{person.pk}/appearances/")
    assert response.json()["count"] == files


@pytest.mark.parametrize("clusters", [2, 7])
def test_cluster_list(alpha, api, model, clusters):
    from people.models import ClusterFace, FaceCluster

    with schema_context(alpha.schema_name):
        media = _catalogue(model, clusters * 3, 1)
        for n in range(clusters):
            cluster = FaceCluster.objects.create(
                face_model=model, size=3, embedding_sum=[0.1] * 128
            )
            for item in media[n * 3 : n * 3 + 3]:
                ClusterFace.objects.create(face=item.faces.first(), cluster=cluster)
    # The tenant's model (its choice or the default); count; the page; its
    # members with their files; the suggested people.
    with assert_query_count(TOKEN_REQUEST + 5):
        response = api.get("/api/v1/clusters/")
    body = response.json()
    assert body["count"] == clusters and all(len(c["face_ids"]) == 3 for c in body["results"])


@pytest.mark.parametrize("people", [2, 3])
def test_attendance_frame(alpha, api, people, settings):
    """A kiosk's frame with one known face, first marked then in cooldown."""
    # A window longer than the test: at 4/s the throttle's row could expire
    # between the two frames on a loaded machine, and its delete is one more query.
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "kiosk": "1000/hour"}
    from tests.attendance.conftest import kiosk_client, make_kiosk, post_frame
    from tests.people.conftest import ALICE, BOB, CAROL, create_person, enrol, photo

    for name in (ALICE, BOB, CAROL)[:people]:
        person = create_person(api, name)
        assert enrol(api, person["id"], photo(name, 1)).status_code == 201
    _, key = make_kiosk(alpha)
    kiosk = kiosk_client(alpha, key)
    # Tenant by host; the kiosk by its key's digest; the frame counted against
    # its allowance with its last-seen time (one UPDATE); the frame's savepoint
    # (its transaction, inside this test's); the tenant's model; the threshold;
    # the plan estimate; the nearest enrolled faces (settings, query, reset: one trip);
    # faces rejected for a face like it; the tenant's attendance settings; the
    # kiosk's groups; the names; the window's check, the mark's INSERT; release.
    with assert_query_count(FRAME_MARKED):
        marked = post_frame(kiosk, photo(ALICE, 2))
    assert [m["status"] for m in marked.json()["marks"]] == ["marked"]
    with assert_query_count(FRAME_MARKED - 1):  # the window is held: no INSERT
        again = post_frame(kiosk, photo(ALICE, 3))
    assert [m["status"] for m in again.json()["marks"]] == ["cooldown"]


FRAME_MARKED = 15


@pytest.mark.parametrize("marks", [3, 9])
def test_attendance_events(alpha, api, marks):
    """The record with its people, kiosks and corrections: a fixed cost per page."""
    import datetime as dt

    from django.utils import timezone

    from attendance import services
    from tests.attendance.conftest import make_kiosk, person_row

    kiosk, _ = make_kiosk(alpha)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        for n in range(marks):
            person = person_row(alpha, f"P{n}")
            _, mark, _ = services.mark_record(
                person_id=person.pk, kiosk=kiosk, scope="door",
                at=now - dt.timedelta(minutes=n), similarity=0.9,
            )  # fmt: skip
            services.correction_remove_mark(mark=mark, reason="test", user=None)
    # count, the page (marks with people and kiosks), their corrections (with who made them)
    with assert_query_count(TOKEN_REQUEST + 3):
        response = api.get("/api/v1/attendance/events/?removed=1")
    assert response.json()["count"] == marks


@pytest.mark.parametrize("photo", ["astronaut", "group"])
def test_processing_a_photo(alpha, photo):
    """A worker's queries for one photo hold whatever its number of faces (2 or 7)."""
    import io

    from skimage import data as images

    from media_ingest import services
    from media_ingest.models import MediaFile, Source
    from media_ingest.processing import process_media_file
    from tests.media_ingest.conftest import jpeg_bytes, shared_path

    if photo == "group":
        data = sorted(shared_path("data", "faces", "groups").glob("*.jpg"))[0].read_bytes()
    else:
        data = jpeg_bytes(np.ascontiguousarray(images.astronaut()))
    with schema_context(alpha.schema_name):
        job = services.job_create(source=Source.API)
        media = services.media_accept(
            stream=io.BytesIO(data), name=f"{photo}.jpg", source=Source.API, job=job
        ).media
        # The attempt (savepoint, the row locked, its update, release); the tenant
        # and its model (one query); the store (savepoint, the row
        # locked, one INSERT for all faces (a photo has no tracks), the row, the
        # job's count and the job, release). Face ids come back from the INSERT;
        # the search cache's generation moves on commit, not counted here.
        with assert_query_count(PROCESS_PHOTO):
            assert process_media_file(media.pk) == "done"
        faces = MediaFile.objects.get(pk=media.pk).face_count
        assert faces == (7 if photo == "group" else 2)


PROCESS_PHOTO = 13
