"""Log records carry request id, tenant schema, user and task; JSON in production."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import Client

from tenants.log import JsonFormatter, TenantContextFilter
from tenants.tasks import run_tenant_task, tenant_task

task_log = logging.getLogger("tests.tasks")


@tenant_task(timeout_s=30)
def _logging_task(word: str) -> str:
    task_log.info("task says %s", word)
    return word


@pytest.fixture
def json_lines():
    """Every record from here on, as the JSON handler of production writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(TenantContextFilter())
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    old_level = root.level
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def test_a_tenant_request_logs_its_id_schema_user_and_duration(alpha, json_lines):
    client = alpha.client(alpha.owner)
    response = client.get("/api/v1/me/", HTTP_X_REQUEST_ID="req-abc-123")
    assert response.status_code == 200
    assert response["X-Request-ID"] == "req-abc-123"
    user_id = alpha.user(alpha.owner).pk
    access = [r for r in json_lines() if r["logger"] == "facet.access"]
    assert len(access) == 1
    line = access[0]
    assert line["request_id"] == "req-abc-123"
    assert line["schema_name"] == alpha.schema_name
    assert line["user_id"] == user_id
    assert line["method"] == "GET" and line["path"] == "/api/v1/me/" and line["status"] == 200
    assert line["duration_ms"] > 0
    assert line["level"] == "INFO" and line["time"]


def test_django_request_warnings_name_the_tenant_not_public(alpha, json_lines):
    response = Client(HTTP_HOST=alpha.host).get("/api/v1/media/999999/")
    assert response.status_code in (401, 403, 404)
    lines = json_lines()
    warning = [r for r in lines if r["logger"] == "django.request"]
    assert warning, lines
    assert all(r["schema_name"] == alpha.schema_name for r in warning)
    assert warning[0]["request_id"] == response["X-Request-ID"]


def test_a_made_up_request_id_is_replaced(alpha, json_lines):
    response = Client(HTTP_HOST=alpha.host).get("/health", HTTP_X_REQUEST_ID="bad id\nx")
    assert response["X-Request-ID"] != "bad id\nx" and len(response["X-Request-ID"]) == 32


def test_failed_sign_in_is_a_security_event_without_the_password(alpha, json_lines):
    secret = "not-the-password-42"
    Client(HTTP_HOST=alpha.host).post(
        "/accounts/login/", {"username": alpha.owner.email, "password": secret}
    )
    lines = json_lines()
    events = [r for r in lines if r.get("event") == "login_failed"]
    assert len(events) == 1
    event = events[0]
    assert event["logger"] == "facet.security" and event["level"] == "WARNING"
    assert event["username"] == alpha.owner.email
    assert event["schema_name"] == alpha.schema_name and event["request_id"] != "-"
    assert secret not in json.dumps(lines)


def test_task_records_carry_the_task_id_name_and_schema(alpha, json_lines):
    from django_q.signals import pre_execute

    path = _logging_task.task_path
    # What a django-q2 worker sends just before it calls the task.
    pre_execute.send(sender="django_q", func=run_tenant_task, task={"id": "q-task-7"})
    assert run_tenant_task(alpha.schema_name, path, "hello") == "hello"
    line = next(r for r in json_lines() if r["logger"] == "tests.tasks")
    assert line["message"] == "task says hello"
    assert line["task_name"] == path
    assert line["task_id"] == "q-task-7"
    assert line["schema_name"] == alpha.schema_name


def test_production_writes_json_and_local_readable_lines():
    code = (
        "import logging, django; django.setup()\n"
        "from django.conf import settings; print(settings.LOG_FORMAT)\n"
        "logging.getLogger('facet.test').warning('hello', extra={'event': 'x'})\n"
    )
    base = {
        **os.environ,
        "DJANGO_SECRET_KEY": "x" * 50,
        "FACET_TENANT_DOMAIN_SUFFIX": "example.test",
    }
    base.pop("FACET_LOG_FORMAT", None)
    outputs = {}
    for module in ("config.settings.production", "config.settings.local"):
        result = subprocess.run(
            [sys.executable, "-c", code],
            env={**base, "DJANGO_SETTINGS_MODULE": module},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=settings.BASE_DIR,
        )
        assert result.returncode == 0, result.stderr
        outputs[module] = (result.stdout.strip(), result.stderr.strip().splitlines()[-1])
    fmt, line = outputs["config.settings.production"]
    assert fmt == "json"
    record = json.loads(line)
    assert record["message"] == "hello" and record["event"] == "x"
    assert record["schema_name"] == "public" and record["logger"] == "facet.test"
    fmt, line = outputs["config.settings.local"]
    assert fmt == "console"
    assert "WARNING [public] facet.test: hello (event=x)" in line
