"""Corrections: a missed mark added, a wrong one removed, each audited (who,
when, what, why) and shown beside the record; nothing overwritten."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tenants.utils import schema_context

from attendance import services
from attendance.models import Correction, Mark
from tests.attendance.conftest import make_kiosk, person_row


def _kiosk_mark(setup, person):
    kiosk, _ = make_kiosk(setup)
    with schema_context(setup.schema_name):
        _, mark, _ = services.mark_record(
            person_id=person.pk, kiosk=kiosk, scope="door", at=timezone.now(), similarity=0.8
        )
    return mark


def test_removing_a_mark_keeps_it_with_who_and_why(alpha, api):
    person = person_row(alpha, "Ann")
    mark = _kiosk_mark(alpha, person)
    response = api.post(
        "/api/v1/attendance/corrections/",
        {"kind": "remove", "mark": mark.pk, "reason": "That was her twin"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["made_by"] == alpha.owner.email
    with schema_context(alpha.schema_name):
        kept = Mark.objects.get(pk=mark.pk)
        assert kept.removed_at is not None and kept.similarity == 0.8
    events = api.get("/api/v1/attendance/events/?removed=1").json()["results"]
    [listed] = events
    assert listed["removed"] is True
    assert listed["corrections"][0]["reason"] == "That was her twin"
    assert listed["corrections"][0]["kind"] == "remove"
    assert api.get("/api/v1/attendance/events/").json()["count"] == 0, "removed: not counted"

    twice = api.post(
        "/api/v1/attendance/corrections/",
        {"kind": "remove", "mark": mark.pk, "reason": "again"},
        content_type="application/json",
    )
    assert twice.status_code == 409 and twice.json()["code"] == "already-removed"


def test_adding_a_missed_mark_is_audited(alpha, api):
    person = person_row(alpha, "Ben")
    when = timezone.now() - dt.timedelta(hours=1)
    response = api.post(
        "/api/v1/attendance/corrections/",
        {"kind": "add", "person": person.pk, "at": when.isoformat(), "reason": "Camera was off"},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    with schema_context(alpha.schema_name):
        [correction] = Correction.objects.all()
        assert correction.kind == "add" and correction.made_by.email == alpha.owner.email
        assert correction.mark.source == "correction" and correction.mark.at == when
    [listed] = api.get("/api/v1/attendance/events/").json()["results"]
    assert listed["source"] == "correction" and listed["corrections"][0]["reason"]


def test_a_correction_needs_a_reason_and_a_changer(alpha, api):
    person = person_row(alpha, "Cy")
    missing = api.post(
        "/api/v1/attendance/corrections/",
        {"kind": "add", "person": person.pk, "at": timezone.now().isoformat(), "reason": " "},
        content_type="application/json",
    )
    assert missing.status_code == 400
    from tests.people.conftest import token_client

    viewer = token_client(alpha, alpha.viewer)
    refused = viewer.post(
        "/api/v1/attendance/corrections/",
        {"kind": "add", "person": person.pk, "at": timezone.now().isoformat(), "reason": "x"},
        content_type="application/json",
    )
    assert refused.status_code == 403


def test_the_record_page_shows_corrections_beside_the_mark(alpha):
    person = person_row(alpha, "Dee")
    mark = _kiosk_mark(alpha, person)
    client = alpha.client(alpha.owner)
    response = client.post(f"/attendance/marks/{mark.pk}/remove/", {"reason": "Wrong person"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Wrong person" in page and "Removed a wrong mark" in page and "<del>" in page
