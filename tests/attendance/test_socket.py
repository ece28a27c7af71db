"""/ws/kiosk/ through the real ASGI stack: the key first, then frames answered
as the frame API answers them; never across tenants; a revoked key closes it."""

from __future__ import annotations

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django_tenants.utils import schema_context

from config.asgi import application
from tests.attendance.conftest import no_face_photo
from tests.conftest import ALPHA, BETA
from tests.people.conftest import ALICE, photo, upload


def _socket(host: str, *, key: str | None = None, origin: str | None = None):
    headers = [(b"host", host.encode())]
    if key:
        headers.append((b"authorization", f"Kiosk {key}".encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/kiosk/", headers=headers)


@pytest.fixture
def alice_at_the_door(committed):
    """Alice enrolled in alpha and a kiosk, committed for the socket's thread."""
    from attendance import services as attendance
    from attendance.models import Kiosk, Mark, UnknownFace
    from people import services as people
    from people.models import Person

    with schema_context(ALPHA.schema_name):
        person = people.person_create(name="Angela Merkel", consent_basis="consent")
        for number in (1, 2):
            people.enrol_from_photo(person=person, photo=upload(photo(ALICE, number)))
        kiosk, key = attendance.kiosk_create(name="Front door")
    yield kiosk, key
    from django_q.models import OrmQ

    with schema_context(ALPHA.schema_name):
        Mark.objects.all().delete()
        UnknownFace.objects.all().delete()
        Kiosk.objects.all().delete()
        for leftover in Person.objects.all():
            people.person_delete(person=leftover)
    OrmQ.objects.all().delete()


async def _authenticated(socket, key):
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"kind": "auth", "key": key})
    ready = await socket.receive_json_from(timeout=10)
    assert ready["kind"] == "ready", ready
    return ready


@pytest.mark.asyncio
async def test_frames_over_the_socket_are_marked_once(alice_at_the_door):
    _, key = alice_at_the_door
    socket = _socket(ALPHA.host, origin=f"http://{ALPHA.host}")
    ready = await _authenticated(socket, key)
    assert ready["kiosk"]["name"] == "Front door"
    try:
        await socket.send_to(bytes_data=photo(ALICE, 4))
        first = await socket.receive_json_from(timeout=60)
        assert first["kind"] == "frame", first
        assert [(m["person"]["name"], m["status"]) for m in first["marks"]] == [
            ("Angela Merkel", "marked")
        ]
        # A frame resent after a dropped connection marks nobody twice.
        await socket.disconnect()
        socket = _socket(ALPHA.host, key=key)
        assert (await socket.connect())[0]
        assert (await socket.receive_json_from(timeout=10))["kind"] == "ready"
        await socket.send_to(bytes_data=photo(ALICE, 5))
        again = await socket.receive_json_from(timeout=60)
        assert [m["status"] for m in again["marks"]] == ["cooldown"]
        await socket.send_to(bytes_data=b"not a picture")
        error = await socket.receive_json_from(timeout=10)
        assert error["kind"] == "error" and error["code"] == "unsupported-type"
    finally:
        await socket.disconnect()


@pytest.mark.asyncio
async def test_a_frame_before_the_key_is_refused_and_a_silent_socket_closed(
    alice_at_the_door, settings
):
    settings.ATTENDANCE = {**settings.ATTENDANCE, "SOCKET_AUTH_TIMEOUT_S": 0.5}
    socket = _socket(ALPHA.host)
    assert (await socket.connect())[0]
    await socket.send_to(bytes_data=b"frame")
    assert (await socket.receive_json_from(timeout=5))["code"] == "not-authenticated"
    closed = await socket.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


@pytest.mark.asyncio
async def test_frames_are_throttled_per_socket(alice_at_the_door, settings):
    settings.FACET_THROTTLES = {**settings.FACET_THROTTLES, "kiosk": "1/min"}
    _, key = alice_at_the_door
    socket = _socket(ALPHA.host, key=key)
    assert (await socket.connect())[0]
    await socket.receive_json_from(timeout=10)
    blank = no_face_photo()
    await socket.send_to(bytes_data=blank)
    await socket.receive_json_from(timeout=30)
    await socket.send_to(bytes_data=blank)
    assert (await socket.receive_json_from(timeout=10))["code"] == "throttled"
    await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize("how", ["header", "message"])
async def test_alphas_key_opens_nothing_on_betas_host(alice_at_the_door, how):
    _, key = alice_at_the_door
    if how == "header":
        connected, _ = await _socket(BETA.host, key=key).connect()
        assert not connected
        return
    socket = _socket(BETA.host, origin=f"http://{BETA.host}")
    assert (await socket.connect())[0]
    await socket.send_json_to({"kind": "auth", "key": key})
    assert (await socket.receive_json_from(timeout=10))["code"] == "invalid-key"
    closed = await socket.receive_output(timeout=5)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401


@pytest.mark.asyncio
async def test_revoking_the_key_closes_its_sockets_at_once(alice_at_the_door):
    from asgiref.sync import sync_to_async

    from attendance import services

    kiosk, key = alice_at_the_door
    socket = _socket(ALPHA.host)
    await _authenticated(socket, key)

    def revoke():
        with schema_context(ALPHA.schema_name):
            services.kiosk_revoke(kiosk=kiosk)

    await sync_to_async(revoke)()
    closed = await socket.receive_output(timeout=10)
    assert closed["type"] == "websocket.close" and closed["code"] == 4401
    await asyncio.sleep(0)
