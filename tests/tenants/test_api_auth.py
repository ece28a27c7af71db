from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from knox.models import AuthToken


def _login(setup, account):
    return setup.client().post(
        "/api/v1/auth/token/",
        {"username": account.email, "password": account.password},
        content_type="application/json",
    )


def _token_client(setup, token: str) -> Client:
    return Client(HTTP_HOST=setup.host, HTTP_AUTHORIZATION=f"Token {token}")


def test_token_login_with_email_and_password_then_me(alpha):
    response = _login(alpha, alpha.owner)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token", "expiry"}
    me = _token_client(alpha, body["token"]).get("/api/v1/me/")
    assert me.status_code == 200
    assert me.json() == {
        "id": 1,
        "email": alpha.owner.email,
        "role": "owner",
        "tenant": {"slug": "alpha", "name": "Alpha Org"},
    }


def test_email_is_case_insensitive_at_login(alpha):
    response = alpha.client().post(
        "/api/v1/auth/token/",
        {"username": alpha.viewer.email.upper(), "password": alpha.viewer.password},
        content_type="application/json",
    )
    assert response.status_code == 200


def test_wrong_password_is_refused_without_a_token(alpha):
    response = alpha.client().post(
        "/api/v1/auth/token/",
        {"username": alpha.owner.email, "password": "nope"},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "token" not in response.json()


def test_logout_revokes_the_token(alpha):
    token = _login(alpha, alpha.viewer).json()["token"]
    client = _token_client(alpha, token)
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get("/api/v1/me/").status_code == 401


def test_tokens_are_stored_hashed_so_a_table_dump_cannot_authenticate(alpha):
    token = _login(alpha, alpha.owner).json()["token"]
    with schema_context(alpha.schema_name):
        stored = AuthToken.objects.get(token_key=token[:15])
        dumped_values = [stored.digest, stored.token_key]
    assert token not in dumped_values
    for value in dumped_values:
        assert _token_client(alpha, value).get("/api/v1/me/").status_code == 401
    assert _token_client(alpha, token).get("/api/v1/me/").status_code == 200


def test_expired_token_is_refused(alpha):
    token = _login(alpha, alpha.owner).json()["token"]
    with schema_context(alpha.schema_name):
        AuthToken.objects.filter(token_key=token[:15]).update(
            expiry=timezone.now() - timedelta(seconds=1)
        )
    assert _token_client(alpha, token).get("/api/v1/me/").status_code == 401


def test_token_of_one_tenant_does_not_work_on_another(alpha, beta):
    # Same user id (1) and role in both schemas: only the schema tells them apart.
    token = _login(alpha, alpha.owner).json()["token"]
    assert _token_client(beta, token).get("/api/v1/me/").status_code == 401


def test_suspended_tenant_refuses_its_valid_tokens(alpha):
    token = _login(alpha, alpha.owner).json()["token"]
    tenant = alpha.tenant
    tenant.suspended_at = timezone.now()
    tenant.save()
    response = _token_client(alpha, token).get("/api/v1/me/")
    assert response.status_code == 403
    assert "suspended" in response.json()["detail"]


def test_login_attempts_are_throttled(alpha):
    cache.clear()
    statuses = [
        alpha.client()
        .post(
            "/api/v1/auth/token/",
            {"username": alpha.owner.email, "password": "wrong"},
            content_type="application/json",
        )
        .status_code
        for _ in range(12)
    ]
    # The address is throttled (10/min) and locked out (10 failures) at once.
    assert statuses[:9] == [400] * 9
    assert statuses[9:] == [429] * 3


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_openapi_schema_and_docs_are_served_on_tenant_hosts(alpha, path):
    response = alpha.client().get(path)
    assert response.status_code == 200
    if path == "/api/schema/":
        assert b"/api/v1/auth/token/" in response.content
    else:
        assert b"swagger-ui" in response.content
        assert b"cdn" not in response.content.lower()
