"""Kiosks (admins only; the key shown once), groups and sessions through the API."""

from __future__ import annotations

from django_tenants.utils import schema_context

from attendance.keys import key_digest
from attendance.models import Kiosk
from tests.attendance.conftest import kiosk_client, person_row
from tests.people.conftest import token_client


def test_registering_a_kiosk_shows_its_key_once_and_keeps_a_digest(alpha, api):
    response = api.post(
        "/api/v1/attendance/kiosks/",
        {"name": "Front door", "location": "Hall", "opens_at": "07:00", "closes_at": "18:00"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "key"}
    key = body["key"]
    with schema_context(alpha.schema_name):
        kiosk = Kiosk.objects.get(pk=body["id"])
        assert kiosk.key_digest == key_digest(key) and key not in kiosk.key_digest
        assert kiosk.cooldown_minutes == 10, "the default cooldown"
    listed = api.get("/api/v1/attendance/kiosks/")
    assert key.encode() not in listed.content
    assert listed.json()[0]["key_prefix"] == key.split(".")[0]
    status = kiosk_client(alpha, key).get("/api/v1/attendance/kiosk/").json()
    assert status["name"] == "Front door" and status["location"] == "Hall"


def test_rotating_and_revoking(alpha, api):
    kiosk = api.post(
        "/api/v1/attendance/kiosks/", {"name": "Gym"}, content_type="application/json"
    ).json()
    rotated = api.post(f"/api/v1/attendance/kiosks/{kiosk['id']}/rotate/").json()
    assert rotated["key"] != kiosk["key"]
    assert kiosk_client(alpha, kiosk["key"]).get("/api/v1/attendance/kiosk/").status_code == 401
    assert kiosk_client(alpha, rotated["key"]).get("/api/v1/attendance/kiosk/").status_code == 200
    revoked = api.post(f"/api/v1/attendance/kiosks/{kiosk['id']}/revoke/").json()
    assert revoked["revoked"] is True
    assert kiosk_client(alpha, rotated["key"]).get("/api/v1/attendance/kiosk/").status_code == 401


def test_only_admins_manage_kiosks(alpha, api):
    viewer = token_client(alpha, alpha.viewer)
    assert viewer.get("/api/v1/attendance/kiosks/").status_code == 403
    refused = viewer.post(
        "/api/v1/attendance/kiosks/", {"name": "x"}, content_type="application/json"
    )
    assert refused.status_code == 403


def test_groups_and_sessions(alpha, api):
    ann, ben = person_row(alpha, "Ann"), person_row(alpha, "Ben")
    group = api.post(
        "/api/v1/attendance/groups/",
        {"name": "Class 1", "members": [ann.pk]},
        content_type="application/json",
    )
    assert group.status_code == 201, group.content
    group_id = group.json()["id"]
    patched = api.patch(
        f"/api/v1/attendance/groups/{group_id}/",
        {"members": [ann.pk, ben.pk]},
        content_type="application/json",
    ).json()
    assert sorted(patched["members"]) == sorted([ann.pk, ben.pk])
    session = api.post(
        "/api/v1/attendance/sessions/",
        {"group": group_id, "starts_at": "09:00", "ends_at": "10:00", "weekdays": [0, 2, 4]},
        content_type="application/json",
    )
    assert session.status_code == 201, session.content
    assert session.json()["late_after_minutes"] == 5
    bad = api.post(
        "/api/v1/attendance/sessions/",
        {"group": group_id, "starts_at": "10:00", "ends_at": "09:00", "weekdays": [0]},
        content_type="application/json",
    )
    assert bad.status_code == 400
    assert api.get(f"/api/v1/attendance/sessions/?group={group_id}").json()[0]["weekdays"] == [
        0, 2, 4,
    ]  # fmt: skip
    duplicate = api.post(
        "/api/v1/attendance/groups/", {"name": "Class 1"}, content_type="application/json"
    )
    assert duplicate.status_code == 400 and duplicate.json()["code"] == "duplicate"
    unknown = api.post(
        "/api/v1/attendance/groups/",
        {"name": "Class 2", "members": [999]},
        content_type="application/json",
    )
    assert unknown.json()["code"] == "unknown-person"
    kiosk = api.post(
        "/api/v1/attendance/kiosks/",
        {"name": "Class door", "groups": [group_id]},
        content_type="application/json",
    ).json()
    in_use = api.delete(f"/api/v1/attendance/groups/{group_id}/")
    assert in_use.status_code == 409 and in_use.json()["code"] == "group-in-use"
    api.patch(
        f"/api/v1/attendance/kiosks/{kiosk['id']}/", {"groups": []}, content_type="application/json"
    )
    assert api.delete(f"/api/v1/attendance/groups/{group_id}/").status_code == 204
