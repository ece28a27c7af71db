"""Frames from a kiosk, through the real frame API and the real engine: a
known face is marked once, then answers cooldown; a stranger is unknown; a
frame without a face marks nobody; bad input gets a clear answer."""

from __future__ import annotations

import datetime as dt

import pytest
from django_tenants.utils import schema_context

from attendance.models import Mark, UnknownFace
from tests.attendance.conftest import (
    ALICE,
    BOB,
    STRANGER,
    kiosk_client,
    make_kiosk,
    no_face_photo,
    photo,
    post_frame,
)


def test_a_known_face_is_marked_then_answers_cooldown(alpha, enrolled, processing):
    _, key = make_kiosk(alpha)
    kiosk = kiosk_client(alpha, key)

    first = processing(lambda: post_frame(kiosk, photo(ALICE, 4)))
    assert first.status_code == 200, first.content
    body = first.json()
    [mark] = body["marks"]
    assert mark["person"] == {"id": enrolled[ALICE]["id"], "name": "Angela Merkel"}
    assert mark["status"] == "marked"
    assert body["unknown"] == 0

    again = post_frame(kiosk, photo(ALICE, 5)).json()
    [repeat] = again["marks"]
    assert repeat["status"] == "cooldown"
    assert repeat["at"] == mark["at"], "the answer names the mark that holds the window"
    with schema_context(alpha.schema_name):
        assert Mark.objects.filter(person_id=enrolled[ALICE]["id"]).count() == 1


def test_a_stranger_is_unknown_and_counted_without_a_crop(alpha, enrolled):
    _, key = make_kiosk(alpha)
    body = post_frame(kiosk_client(alpha, key), photo(STRANGER, 1)).json()
    assert body["marks"] == [] and body["unknown"] == 1
    assert len(body["unknown_boxes"]) == 1
    with schema_context(alpha.schema_name):
        [unknown] = UnknownFace.objects.all()
        assert unknown.crop == "", "unknown faces are not kept unless the tenant says so"
        assert not Mark.objects.exists()


def test_a_frame_without_a_face_marks_nobody(alpha, enrolled):
    _, key = make_kiosk(alpha)
    response = post_frame(kiosk_client(alpha, key), no_face_photo())
    assert response.status_code == 200
    assert response.json()["marks"] == [] and response.json()["unknown"] == 0


def test_a_blank_frame_marks_nobody(alpha, db):
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (640, 480), (128, 128, 128)).save(out, format="JPEG")
    _, key = make_kiosk(alpha)
    response = post_frame(kiosk_client(alpha, key), out.getvalue())
    assert response.status_code == 200
    assert response.json()["marks"] == [] and response.json()["unknown"] == 0


def test_a_group_kiosk_marks_its_members_only(alpha, enrolled):
    from attendance import services
    from people.models import Person

    with schema_context(alpha.schema_name):
        group = services.group_create(
            name="Class 1", members=[Person.objects.get(pk=enrolled[BOB]["id"])]
        )
    _, key = make_kiosk(alpha, groups=[group])
    body = post_frame(kiosk_client(alpha, key), photo(ALICE, 4)).json()
    assert [m["status"] for m in body["marks"]] == ["not-member"]
    body = post_frame(kiosk_client(alpha, key), photo(BOB, 3)).json()
    assert [m["status"] for m in body["marks"]] == ["marked"]


def test_a_mark_keeps_its_crop_when_the_tenant_says_so(alpha, enrolled):
    from attendance import services

    with schema_context(alpha.schema_name):
        services.attendance_settings_update(keep_mark_crops=True)
    _, key = make_kiosk(alpha)
    assert post_frame(kiosk_client(alpha, key), photo(ALICE, 4)).json()["marks"]
    with schema_context(alpha.schema_name):
        [mark] = Mark.objects.all()
        assert mark.crop.name.startswith("attendance/marks/")
        assert mark.similarity > 0
    record = alpha.client(alpha.viewer).get("/attendance/marks/").content.decode()
    assert f"/media/{mark.crop.name}" in record, "the crop is shown beside the record"


def test_bad_frames_get_clear_answers(alpha, db):
    _, key = make_kiosk(alpha)
    kiosk = kiosk_client(alpha, key)
    missing = kiosk.post("/api/v1/attendance/frames/", {})
    assert missing.status_code == 400 and missing.json()["code"] == "missing-file"
    from tests.attendance.conftest import frame_file

    garbage = kiosk.post("/api/v1/attendance/frames/", {"frame": frame_file(b"hello" * 100)})
    assert garbage.status_code == 400 and garbage.json()["code"] == "unsupported-type"
    empty = kiosk.post("/api/v1/attendance/frames/", {"frame": frame_file(b"")})
    assert empty.status_code == 400


def test_an_oversized_frame_is_refused_before_reading(alpha, db, settings):
    settings.RECOGNITION = {**settings.RECOGNITION, "MAX_QUERY_BYTES": 1024}
    _, key = make_kiosk(alpha)
    response = post_frame(kiosk_client(alpha, key), no_face_photo() * 2)
    assert response.status_code == 413 and response.json()["code"] == "too-large"


def test_a_frame_outside_opening_hours_is_refused(alpha, db):
    from django.utils import timezone

    now = timezone.localtime()
    opens = (now + dt.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    closes = (now + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    _, key = make_kiosk(alpha, opens_at=opens, closes_at=closes)
    response = post_frame(kiosk_client(alpha, key), no_face_photo())
    assert response.status_code == 409 and response.json()["code"] == "kiosk-closed"


def test_a_revoked_or_rotated_key_is_refused(alpha, db):
    from attendance import services

    kiosk, key = make_kiosk(alpha)
    with schema_context(alpha.schema_name):
        new_key = services.kiosk_rotate_key(kiosk=kiosk)
    old = post_frame(kiosk_client(alpha, key), no_face_photo())
    assert old.status_code == 401 and old.json()["code"] == "authentication-failed"
    assert post_frame(kiosk_client(alpha, new_key), no_face_photo()).status_code == 200
    with schema_context(alpha.schema_name):
        services.kiosk_revoke(kiosk=kiosk)
    assert post_frame(kiosk_client(alpha, new_key), no_face_photo()).status_code == 401


def test_another_tenants_key_is_refused(alpha, beta, db):
    _, alpha_key = make_kiosk(alpha)
    response = post_frame(kiosk_client(beta, alpha_key), no_face_photo())
    assert response.status_code == 401


def test_frames_are_throttled_per_kiosk(alpha, db, settings):
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "kiosk": "1/min"}
    _, key = make_kiosk(alpha, name="Busy")
    _, other_key = make_kiosk(alpha, name="Quiet")
    busy = kiosk_client(alpha, key)
    assert post_frame(busy, no_face_photo()).status_code == 200
    refused = post_frame(busy, no_face_photo())
    assert refused.status_code == 429 and refused.json()["code"] == "throttled"
    assert refused.json()["retry_after"] > 0
    assert post_frame(kiosk_client(alpha, other_key), no_face_photo()).status_code == 200


@pytest.mark.parametrize("account", ["owner", "viewer"])
def test_members_cannot_post_frames_and_kiosks_cannot_read_data(alpha, db, account):
    from tests.people.conftest import token_client

    member = token_client(alpha, getattr(alpha, account))
    assert post_frame(member, no_face_photo()).status_code == 403
    _, key = make_kiosk(alpha)
    kiosk = kiosk_client(alpha, key)
    for path in ("/api/v1/people/", "/api/v1/media/", "/api/v1/attendance/events/",
                 "/api/v1/attendance/kiosks/", "/api/v1/me/"):  # fmt: skip
        assert kiosk.get(path).status_code == 403, path
    status = kiosk.get("/api/v1/attendance/kiosk/")
    assert status.status_code == 200 and status.json()["name"] == "Front door"


def test_unknown_faces_are_kept_for_review_only_when_asked_and_purged_after_retention(
    alpha, enrolled, processing
):
    from django.core.files.storage import default_storage
    from django.utils import timezone

    from attendance import services, tasks

    with schema_context(alpha.schema_name):
        services.attendance_settings_update(keep_unknown_faces=True, unknown_retention_days=3)
    _, key = make_kiosk(alpha)
    assert post_frame(kiosk_client(alpha, key), photo(STRANGER, 1)).json()["unknown"] == 1
    with schema_context(alpha.schema_name):
        [unknown] = UnknownFace.objects.all()
        assert unknown.crop.name.startswith("attendance/unknown/")
        crop = unknown.crop.name
        assert default_storage.exists(crop)
        assert services.unknown_faces_purge() == 0, "within the retention: kept"
        UnknownFace.objects.update(seen_at=timezone.now() - dt.timedelta(days=4))
    processing(lambda: tasks.purge_unknown_faces_everywhere())
    with schema_context(alpha.schema_name):
        assert not UnknownFace.objects.exists()
        assert not default_storage.exists(crop)


def test_editing_a_kiosk_keeps_the_frames_it_counted_meanwhile(alpha):
    """An edit saves what it changed, not the counters as they were read."""
    from attendance import services
    from attendance.models import Kiosk
    from attendance.throttles import count_frame

    kiosk, _ = make_kiosk(alpha)
    with schema_context(alpha.schema_name):
        read_before = Kiosk.objects.get(pk=kiosk.pk)
        counted = count_frame(kiosk.pk, kiosk.key_digest).kiosk
        services.kiosk_update(kiosk=read_before, name="Front door")
        stored = Kiosk.objects.get(pk=kiosk.pk)
    assert stored.name == "Front door"
    assert counted.last_seen_at is not None
    assert stored.last_seen_at == counted.last_seen_at
    assert stored.frames_in_window == 1
