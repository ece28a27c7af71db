"""Sentry events: tagged with tenant, request and task; no images, embeddings or secrets.

A real sentry_sdk client, its transport capturing the envelopes it would send.
"""

from __future__ import annotations

import base64
import struct

import numpy as np
import pytest
import sentry_sdk
from sentry_sdk.transport import Transport

from tenants.log import bound
from tenants.sentry import sentry_init

PASSWORD = "hunter2-correct-horse"
TOKEN = "5f1d8c0a9e7b4c3d2e1f0a9b8c7d6e5f"
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 4


class Capturing(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope)


@pytest.fixture
def sentry():
    transport = Capturing()
    sentry_init(dsn="https://public@sentry.example.com/1", transport=transport)
    try:
        yield transport
    finally:
        sentry_sdk.init()  # no DSN: the client is off again


def _sent(transport) -> tuple[list[dict], bytes]:
    sentry_sdk.flush()
    events = [
        item.payload.json
        for envelope in transport.envelopes
        for item in envelope.items
        if item.type == "event"
    ]
    raw = b"".join(envelope.serialize() for envelope in transport.envelopes)
    return events, raw


def _fail(password, token, embedding, photo):
    raise ValueError("processing failed")


def test_events_are_tagged_and_carry_no_image_embedding_password_or_token(sentry):
    embedding = np.random.default_rng(1).random(128).astype(np.float32)
    with bound(request_id="req-77", schema_name="t_alpha", task_name="media.process", task_id="q1"):
        sentry_sdk.set_context("upload", {"photo": JPEG, "name": "a.jpg"})
        sentry_sdk.set_extra(
            "face", {"embedding": embedding.tolist(), "vector": embedding.tolist()}
        )
        sentry_sdk.set_extra("numbers", embedding.tolist())
        sentry_sdk.set_extra("login", {"password": PASSWORD, "token": TOKEN})
        sentry_sdk.set_extra("image_b64", base64.b64encode(JPEG).decode())
        sentry_sdk.add_breadcrumb(message="upload", data={"authorization": f"Token {TOKEN}"})
        try:
            _fail(PASSWORD, TOKEN, embedding, JPEG)
        except ValueError:
            sentry_sdk.capture_exception()
    events, raw = _sent(sentry)
    assert len(events) == 1
    tags = events[0]["tags"]
    assert tags["tenant"] == "t_alpha"
    assert tags["request_id"] == "req-77"
    assert tags["task"] == "media.process" and tags["task_id"] == "q1"
    assert events[0]["exception"]["values"][0]["type"] == "ValueError"
    text = raw.decode("utf-8", "replace")
    assert PASSWORD not in text
    assert TOKEN not in text
    assert base64.b64encode(JPEG).decode()[:40] not in text
    assert JPEG[4:40] not in raw and repr(JPEG[:20])[2:-1] not in text
    # No float of the embedding, in any printing of it.
    for number in embedding[:8]:
        assert f"{float(number):.6f}"[:8] not in text
        assert struct.pack("<f", number) not in raw


def test_a_failing_request_is_reported_with_its_tenant_and_id_and_no_credentials(
    sentry, alpha, monkeypatch
):
    from knox.models import AuthToken

    from tenants import api

    def broken(self, request):
        raise RuntimeError("view failed")

    monkeypatch.setattr(api.MeView, "get", broken)
    from django.test import Client
    from django_tenants.utils import schema_context

    with schema_context(alpha.schema_name):
        _, token = AuthToken.objects.create(alpha.user(alpha.owner))
    client = Client(HTTP_HOST=alpha.host, raise_request_exception=False)
    response = client.get(
        "/api/v1/me/?password=" + PASSWORD,
        HTTP_AUTHORIZATION=f"Token {token}",
        HTTP_X_REQUEST_ID="req-sentry-1",
        HTTP_COOKIE=f"sessionid={TOKEN}",
    )
    assert response.status_code == 500
    events, raw = _sent(sentry)
    [event] = [e for e in events if e.get("exception")]
    assert event["tags"]["tenant"] == alpha.schema_name
    assert event["tags"]["request_id"] == "req-sentry-1"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"
    assert event["transaction"] == "/api/v1/me/"
    text = raw.decode("utf-8", "replace")
    assert token not in text and TOKEN not in text and PASSWORD not in text


def test_an_asgi_request_event_loses_its_query_string_and_credential_headers():
    """The shape sentry_sdk's ASGI middleware gives a request (the web server runs ASGI)."""
    from tenants.sentry import scrub

    event = {
        "request": {
            "url": f"http://alpha.localhost/api/v1/me/?password={PASSWORD}",
            "method": "GET",
            "query_string": f"password={PASSWORD}&token={TOKEN}",
            "headers": {"Authorization": f"Token {TOKEN}", "Cookie": f"s={TOKEN}", "Accept": "*/*"},
            "data": {"photo": "x"},
        }
    }
    scrubbed = scrub(event)
    assert scrubbed["request"] == {
        "url": "http://alpha.localhost/api/v1/me/",
        "method": "GET",
        "headers": {"Accept": "*/*"},
    }
