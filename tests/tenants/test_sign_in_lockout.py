"""Guessing passwords: every sign-in path locks an account or an address out
after FACET_LOGIN_FAILURE_LIMIT failures, whatever headers the client sends."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

LIMIT = settings.AXES_FAILURE_LIMIT


class CountingModelBackend(ModelBackend):
    """Django's own backend, counting the passwords it actually checks."""

    checked = 0

    def authenticate(self, request, username=None, password=None, **kwargs):
        type(self).checked += 1
        return super().authenticate(request, username=username, password=password, **kwargs)


def _portal(client, email, password, ip):
    return client.post(
        "/accounts/login/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def _admin(client, email, password, ip):
    return client.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}, REMOTE_ADDR=ip
    )


def _token(client, email, password, ip):
    return client.post(
        "/api/v1/auth/token/",
        {"username": email, "password": password},
        content_type="application/json",
        REMOTE_ADDR=ip,
    )


@pytest.mark.parametrize("sign_in", [_portal, _admin, _token], ids=["portal", "admin", "token"])
def test_an_account_is_locked_after_the_limit_even_from_new_addresses(alpha, sign_in):
    client = Client(HTTP_HOST=alpha.host)
    for n in range(LIMIT - 1):
        refused = sign_in(client, alpha.owner.email, f"guess-{n}", f"10.1.{n}.1")
        assert refused.status_code in {200, 400}, refused.status_code  # a plain wrong password
    # The failure that reaches the limit is answered with the lock-out.
    assert sign_in(client, alpha.owner.email, "last-guess", "10.1.99.1").status_code == 429
    # The right password, from yet another address, no longer gets in.
    locked = sign_in(client, alpha.owner.email, alpha.owner.password, "10.2.0.1")
    assert locked.status_code == 429
    assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
    if sign_in is _token:
        assert locked.json()["code"] == "locked-out"
        assert "token" not in locked.json()
    else:
        assert b"Too many failed sign-ins" in locked.content
        assert "_auth_user_id" not in client.session


def test_the_lock_ends_after_the_cool_off(alpha):
    client = Client(HTTP_HOST=alpha.host)
    for n in range(LIMIT):
        _portal(client, alpha.owner.email, "wrong", f"10.3.{n}.1")
    with schema_context(alpha.schema_name):
        AccessAttempt.objects.update(
            attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(minutes=1)
        )
    assert _portal(client, alpha.owner.email, alpha.owner.password, "10.3.0.9").status_code == 302


def test_one_address_guessing_many_accounts_is_locked(alpha):
    client = Client(HTTP_HOST=alpha.host)
    for n in range(LIMIT):
        _portal(client, f"someone-{n}@alpha.test", "wrong", "10.4.0.1")
    assert _portal(client, alpha.viewer.email, alpha.viewer.password, "10.4.0.1").status_code == 429
    # Another address is not affected.
    assert _portal(client, alpha.viewer.email, alpha.viewer.password, "10.4.0.2").status_code == 302


def test_changing_the_case_of_the_address_does_not_reset_the_count(alpha):
    client = Client(HTTP_HOST=alpha.host)
    for n in range(LIMIT):
        name = alpha.owner.email.upper() if n % 2 else alpha.owner.email
        _admin(client, name, "wrong", f"10.5.{n}.1")
    assert _admin(client, alpha.owner.email, alpha.owner.password, "10.5.9.9").status_code == 429


def test_forged_forwarded_for_does_not_escape_the_api_throttle(alpha):
    """With no trusted proxy, X-Forwarded-For is the client's own claim: ignored."""
    client = Client(HTTP_HOST=alpha.host)
    codes = [
        client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody-{n}@alpha.test", "password": "x"},
            content_type="application/json",
            REMOTE_ADDR="10.6.0.1",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        ).status_code
        for n in range(12)
    ]
    assert codes.count(429) >= 2, codes


def test_guesses_evaluated_per_account_stay_under_the_hourly_goal(alpha, settings):
    settings.AUTHENTICATION_BACKENDS = [
        "axes.backends.AxesStandaloneBackend",
        f"{__name__}.CountingModelBackend",
    ]
    CountingModelBackend.checked = 0
    client = Client(HTTP_HOST=alpha.host)
    for n in range(150):
        _portal(client, alpha.owner.email, f"guess-{n}", f"10.7.{n // 200}.{n % 200}")
    # Within one cool-off at most LIMIT passwords are checked; an hour holds at
    # most 60 / cool-off of them, each at most LIMIT guesses.
    assert CountingModelBackend.checked == LIMIT
    per_hour = LIMIT * (60 // (settings.AXES_COOLOFF_TIME.total_seconds() // 60) + 1)
    assert per_hour <= 100


def test_failed_sign_ins_are_logged_as_security_events_without_the_password(alpha, caplog):
    client = Client(HTTP_HOST=alpha.host)
    with caplog.at_level(logging.WARNING, logger="facet.security"):
        _portal(client, alpha.owner.email, "hunter2-secret", "10.8.0.1")
    [record] = [r for r in caplog.records if r.name == "facet.security"]
    assert record.event == "login_failed"
    assert record.username == alpha.owner.email
    assert record.client_ip == "10.8.0.1"
    assert record.schema == alpha.schema_name
    assert "hunter2-secret" not in repr(record.__dict__)


def test_client_ip_trusts_exactly_the_configured_proxies(rf, settings):
    from tenants.security import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.FACET_TRUSTED_PROXIES = 0
    assert client_ip(request) == "10.0.0.2"
    settings.FACET_TRUSTED_PROXIES = 1  # nginx appended the address it saw
    assert client_ip(request) == "203.0.113.9"
    settings.FACET_TRUSTED_PROXIES = 2
    assert client_ip(request) == "6.6.6.6"


def test_an_owner_unlocks_a_member_from_the_tenant_admin(alpha):
    client = Client(HTTP_HOST=alpha.host)
    for n in range(LIMIT):
        _portal(client, alpha.viewer.email, "wrong", f"10.9.{n}.1")
    assert _portal(client, alpha.viewer.email, alpha.viewer.password, "10.9.9.9").status_code == 429
    owner = alpha.client(alpha.owner)
    listing = owner.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and alpha.viewer.email.encode() in listing.content
    with schema_context(alpha.schema_name):
        ids = list(AccessAttempt.objects.values_list("pk", flat=True))
    owner.post(
        "/admin/axes/accessattempt/",
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )
    assert _portal(client, alpha.viewer.email, alpha.viewer.password, "10.9.9.9").status_code == 302
