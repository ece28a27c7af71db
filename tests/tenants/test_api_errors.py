"""Every 4xx and 5xx from /api/v1/ in one shape: {"code", "detail", ...}."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client
from django_tenants.utils import schema_context
from knox.models import AuthToken


@pytest.fixture
def api(alpha):
    with schema_context(alpha.schema_name):
        _, token = AuthToken.objects.create(alpha.user(alpha.owner))
    return Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Token {token}")


def _shape(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["code"] == code, body
    assert isinstance(body["detail"], str) and len(body["detail"]) > 5
    return body


def test_404_of_an_object_and_of_a_path(api):
    _shape(api.get("/api/v1/media/999999/"), 404, "not-found")
    _shape(api.get("/api/v1/nothing/"), 404, "not-found")


def test_401_without_or_with_a_bad_token(alpha):
    _shape(Client(HTTP_HOST=alpha.host).get("/api/v1/media/"), 401, "not-authenticated")
    bad = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION="Token not-a-token")
    _shape(bad.get("/api/v1/media/"), 401, "authentication-failed")


def test_400_validation_names_the_fields(api):
    body = _shape(api.get("/api/v1/media/?status=bogus"), 400, "invalid")
    assert "status" in body["fields"] and body["fields"]["status"]
    assert "status" in body["detail"]


def test_a_refused_upload(api):
    upload = io.BytesIO(b"not a photo at all, just words" * 10)
    upload.name = "notes.jpg"
    body = _shape(api.post("/api/v1/media/", {"file": upload}), 400, "unsupported-type")
    assert "JPEG" in body["detail"]
    _shape(api.post("/api/v1/media/", {}), 400, "missing-file")


def test_403_for_a_role_that_may_not(alpha):
    with schema_context(alpha.schema_name):
        _, token = AuthToken.objects.create(alpha.user(alpha.viewer))
    viewer = Client(HTTP_HOST=alpha.host, HTTP_AUTHORIZATION=f"Token {token}")
    body = _shape(viewer.delete("/api/v1/media/1/"), 403, "permission-denied")
    assert "owners and admins" in body["detail"]


def test_405_for_a_method_the_route_does_not_have(api):
    _shape(api.put("/api/v1/stats/"), 405, "method-not-allowed")


def test_429_says_when_to_come_back(api, settings):
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "search": "1/min"}
    api.post("/api/v1/search/", {"face_id": 1})
    response = api.post("/api/v1/search/", {"face_id": 1})
    body = _shape(response, 429, "throttled")
    assert body["retry_after"] == int(response["Retry-After"]) > 0


def test_the_openapi_schema_validates_without_warnings():
    out = subprocess.run(
        [sys.executable, "manage.py", "spectacular", "--validate", "--fail-on-warn",
         "--file", os.devnull],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
             "DJANGO_SETTINGS_MODULE": "config.settings.local"},
        capture_output=True,
        text=True,
        timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_schema_documents_the_error_shape_on_every_operation(alpha):
    import yaml

    schema = yaml.safe_load(alpha.client().get("/api/schema/").content)
    assert set(schema["components"]["schemas"]["Error"]["required"]) == {"code", "detail"}
    for path, operations in schema["paths"].items():
        if path.startswith("/api/v1/"):
            for method, operation in operations.items():
                assert "404" in operation["responses"], (method, path)
