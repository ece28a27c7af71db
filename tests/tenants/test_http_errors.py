"""Errors in one shape: JSON with code and detail under /api/, portal pages elsewhere."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from django.conf import settings
from django_tenants.utils import schema_context


def test_too_many_fields_to_the_api_is_json(alpha):
    body = "&".join(f"f{n}=x" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = alpha.client().post(
        "/api/v1/auth/token/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "too-many-fields"


def test_a_body_too_large_for_the_api_is_json_413(alpha):
    body = "x=" + "a" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)
    response = alpha.client().post(
        "/api/v1/auth/token/", body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 413
    assert response.json() == {
        "code": "body-too-large",
        "detail": "The request body is larger than allowed.",
    }


def test_an_unknown_api_path_is_json_404_and_a_page_is_the_portals(alpha):
    api = alpha.client(alpha.owner).get("/api/v1/nothing-here/")
    assert api.status_code == 404
    assert api.json()["code"] == "not-found"
    page = alpha.client(alpha.owner).get("/nothing-here/")
    assert page.status_code == 404
    assert b"There is nothing at this address." in page.content
    assert b'href="/library/"' in page.content  # inside the portal shell, with navigation


def test_a_portal_403_keeps_the_shell_and_says_why(alpha):
    page = alpha.client(alpha.viewer).get("/members/")
    assert page.status_code == 403
    assert b"Only owners and admins manage members." in page.content
    assert b"Sign out" in page.content


def _settings_in_a_fresh_process(module: str, **env) -> dict:
    """Import a settings module as `make run` or a deployment would (no database needed)."""
    code = (
        "import json, django; from django.conf import settings; django.setup(); "
        "print(json.dumps({'DEBUG': settings.DEBUG, 'ALLOWED_HOSTS': settings.ALLOWED_HOSTS}))"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": module,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        **env,
    }
    environment.pop("FACET_DEBUG", None) if "FACET_DEBUG" not in env else None
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def test_make_run_settings_have_debug_off_unless_asked():
    default = _settings_in_a_fresh_process("config.settings.local")
    assert default["DEBUG"] is False
    assert "*" not in default["ALLOWED_HOSTS"]
    assert {"localhost", ".localhost"} <= set(default["ALLOWED_HOSTS"])
    assert _settings_in_a_fresh_process("config.settings.local", FACET_DEBUG="1")["DEBUG"] is True


def test_production_derives_allowed_hosts_from_the_tenant_domain_suffix():
    hosts = _settings_in_a_fresh_process(
        "config.settings.production",
        DJANGO_SECRET_KEY="k" * 60,
        FACET_PUBLIC_HOST="facet.example.com",
        FACET_TENANT_DOMAIN_SUFFIX="facet.example.com",
    )["ALLOWED_HOSTS"]
    assert hosts == ["facet.example.com", ".facet.example.com"]


def test_production_without_a_host_suffix_refuses_to_start():
    with pytest.raises(subprocess.CalledProcessError) as failed:
        _settings_in_a_fresh_process("config.settings.production", DJANGO_SECRET_KEY="k" * 60)
    assert "FACET_TENANT_DOMAIN_SUFFIX" in failed.value.stderr


def test_check_deploy_with_production_settings_has_no_warnings():
    out = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=settings.BASE_DIR,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY": "a-production-key-" + "x" * 50,
            "FACET_TENANT_DOMAIN_SUFFIX": "facet.example.com",
            "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "System check identified no issues" in out.stdout


def test_the_favicon_is_served_on_tenant_and_public_hosts(alpha):
    from django.test import Client

    for client in (alpha.client(), Client(HTTP_HOST="localhost")):
        response = client.get("/favicon.ico")
        assert response.status_code == 301
        icon = client.get(response["Location"])
        assert icon.status_code == 200
        assert icon["Content-Type"] == "image/svg+xml"
    page = alpha.client(alpha.owner).get("/").content.decode()
    assert 'rel="icon" href="/static/favicon.svg"' in page


def test_a_stale_form_is_the_portals_403_with_what_to_do(alpha):
    from django.test import Client

    client = Client(HTTP_HOST=alpha.host, enforce_csrf_checks=True)
    with schema_context(alpha.schema_name):
        client.force_login(alpha.user(alpha.owner))
    response = client.post("/members/", {"email": "x@alpha.test", "role": "viewer"})
    assert response.status_code == 403
    assert b"Reload the page and try again." in response.content
    assert b"Sign out" in response.content  # the shell, for a signed-in member
    api = client.post("/api/v1/auth/logout/")
    assert api.status_code in {401, 403}


def test_sign_in_errors_speak_of_the_e_mail_address(alpha):
    for path in ("/accounts/login/", "/admin/login/"):
        response = alpha.client().post(path, {"username": alpha.viewer.email, "password": "no"})
        html = response.content.decode()
        assert "e-mail address and password do not match" in html, path
        text = re.sub(r"<[^>]+>", " ", html).lower()  # what a person reads
        assert "username" not in text and "e-mail" in text, path


def test_make_run_answers_unknown_paths_with_the_portals_404():
    """`make run` (config.settings.local, DEBUG off unless FACET_DEBUG=1) never shows
    Django's technical 404, which lists every URL pattern."""
    code = (
        "import django; django.setup(); "
        "from django.conf import settings; "
        "from django.core.handlers.exception import response_for_exception; "
        "from django.http import Http404; from django.test import RequestFactory; "
        "request = RequestFactory().get('/no-such-page/', HTTP_HOST='localhost'); "
        "request.urlconf = 'config.urls_tenants'; "
        "response = response_for_exception(request, Http404('x')); "
        "print(settings.DEBUG, response.status_code); print(response.content.decode())"
    )
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none",
    }
    environment.pop("FACET_DEBUG", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert out.startswith("False 404"), out[:200]
    assert "There is nothing at this address." in out
    assert "URLconf" not in out and "Using the URLconf" not in out
