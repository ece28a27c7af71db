"""Attendance tests: real photos of enrolled people, the real dlib engine, kiosks
with real keys."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from tests.media_ingest.conftest import shared_file
from tests.people.conftest import ALICE, BOB, STRANGER, create_person, enrol, photo, token_client

__all__ = ["ALICE", "BOB", "STRANGER", "photo"]


@pytest.fixture
def api(alpha):
    return token_client(alpha, alpha.owner)


@pytest.fixture
def enrolled(api):
    """Alice and Bob, two photos each (Alice's 4th and Bob's 3rd are left for frames)."""
    people = {}
    for name in (ALICE, BOB):
        person = create_person(api, name.replace("_", " "))
        for number in (1, 2):
            assert enrol(api, person["id"], photo(name, number)).status_code == 201
        people[name] = person
    return people


def make_kiosk(setup, **fields):
    """A kiosk of ``setup``'s tenant and its key."""
    from attendance import services

    with schema_context(setup.schema_name):
        return services.kiosk_create(name=fields.pop("name", "Front door"), **fields)


def kiosk_client(setup, key: str) -> Client:
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Kiosk {key}")


def frame_file(data: bytes, name: str = "frame.jpg"):
    from tests.people.conftest import upload

    return upload(data, name)


def post_frame(client: Client, data: bytes):
    return client.post("/api/v1/attendance/frames/", {"frame": frame_file(data)})


def no_face_photo() -> bytes:
    return shared_file("nofaces", "dlib_dog.jpg").read_bytes()


def person_row(setup, name: str, **fields):
    """A person without faces (reports and corrections need no engine)."""
    from people.models import Person

    with schema_context(setup.schema_name):
        return Person.objects.create(
            name=name, consent_basis="consent", consent_recorded_at=timezone.now(), **fields
        )


def at(day: dt.date, hhmm: str) -> dt.datetime:
    hour, minute = map(int, hhmm.split(":"))
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=timezone.get_current_timezone())
