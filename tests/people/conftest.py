"""People tests: real photos of several identities, the real dlib engine."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken

from tests.media_ingest.conftest import shared_file

ALICE, BOB, CAROL = "Angela_Merkel", "Vladimir_Putin", "Venus_Williams"
STRANGER = "Yasser_Arafat"


def photo(name: str, number: int) -> bytes:
    return shared_file("identities", name, f"{name}_{number:04d}.jpg").read_bytes()


def upload(data: bytes, name: str = "photo.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def token_client(setup, account) -> Client:
    with schema_context(setup.schema_name):
        _, token = AuthToken.objects.create(setup.user(account))
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Token {token}")


@pytest.fixture
def api(alpha):
    return token_client(alpha, alpha.owner)


def create_person(api, name: str, **extra) -> dict:
    response = api.post(
        "/api/v1/people/",
        {"name": name, "consent_basis": "consent", **extra},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def enrol(api, person_id: int, data: bytes, name="photo.jpg"):
    return api.post(f"/api/v1/people/{person_id}/faces/", {"photo": upload(data, name)})
