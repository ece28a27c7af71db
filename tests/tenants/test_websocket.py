"""The /ws/events/ socket through the real ASGI stack and the Postgres channel layer."""

import asyncio

import pytest
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django_tenants.utils import schema_context
from knox.models import AuthToken

from config.asgi import application
from tenants.events import send_event
from tests.conftest import ALPHA, BETA


def _session_cookie(setup, account) -> str:
    client = setup.client(account)
    return f"sessionid={client.cookies['sessionid'].value}"


def _token(setup, account) -> str:
    with schema_context(setup.schema_name):
        _, token = AuthToken.objects.create(setup.user(account))
    return token


@pytest.fixture
def sessions(committed):
    """Signed-in sessions for alpha's and beta's owners, committed for the socket's thread."""
    cookies = {
        "alpha": _session_cookie(ALPHA, ALPHA.owner),
        "beta": _session_cookie(BETA, BETA.owner),
    }
    yield cookies
    for setup in (ALPHA, BETA):
        with schema_context(setup.schema_name):
            Session.objects.all().delete()
            AuthToken.objects.all().delete()


def _socket(host: str, *, cookie: str | None = None, origin: str | None = None, token=None):
    headers = [(b"host", host.encode())]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    if origin:
        headers.append((b"origin", origin.encode()))
    if token:
        headers.append((b"authorization", f"Token {token}".encode()))
    return WebsocketCommunicator(application, "/ws/events/", headers=headers)


async def _publish(schema_name: str, **data) -> None:
    from asgiref.sync import sync_to_async

    await sync_to_async(send_event)(schema_name=schema_name, kind="test", data=data)


@pytest.mark.asyncio
async def test_event_for_alpha_reaches_alphas_user_and_not_betas(sessions):
    alpha_socket = _socket(ALPHA.host, cookie=sessions["alpha"], origin=f"http://{ALPHA.host}")
    beta_socket = _socket(BETA.host, cookie=sessions["beta"], origin=f"http://{BETA.host}")
    assert (await alpha_socket.connect())[0]
    assert (await beta_socket.connect())[0]
    try:
        await _publish(ALPHA.schema_name, message="alpha only")
        received = await alpha_socket.receive_json_from(timeout=10)
        assert received["kind"] == "test"
        assert received["message"] == "alpha only"
        assert await beta_socket.receive_nothing(timeout=1)

        await _publish(BETA.schema_name, message="beta only")
        assert (await beta_socket.receive_json_from(timeout=10))["message"] == "beta only"
        if not await alpha_socket.receive_nothing(timeout=1):
            pytest.fail(f"alpha received {await alpha_socket.receive_json_from()}")
    finally:
        await alpha_socket.disconnect()
        await beta_socket.disconnect()


@pytest.mark.asyncio
async def test_api_token_opens_the_socket_for_non_browser_clients(sessions):
    token = await asyncio.to_thread(_token, ALPHA, ALPHA.viewer)
    socket = _socket(ALPHA.host, token=token)
    connected, _ = await socket.connect()
    assert connected
    await socket.send_json_to({"kind": "ping"})
    assert await socket.receive_json_from(timeout=5) == {"kind": "pong"}
    await socket.disconnect()


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "case",
    [
        "no credentials",
        "alpha session on beta host",
        "alpha token on beta host",
        "foreign origin",
        "other tenant origin",
        "unknown host",
        "public host",
    ],
)
async def test_sockets_are_refused(sessions, case):
    token = await asyncio.to_thread(_token, ALPHA, ALPHA.owner)
    socket = {
        "no credentials": lambda: _socket(ALPHA.host),
        "alpha session on beta host": lambda: _socket(BETA.host, cookie=sessions["alpha"]),
        "alpha token on beta host": lambda: _socket(BETA.host, token=token),
        "foreign origin": lambda: _socket(
            ALPHA.host, cookie=sessions["alpha"], origin="http://evil.example"
        ),
        "other tenant origin": lambda: _socket(
            ALPHA.host, cookie=sessions["alpha"], origin=f"http://{BETA.host}"
        ),
        "unknown host": lambda: _socket("nobody.localhost", cookie=sessions["alpha"]),
        "public host": lambda: _socket("localhost", cookie=sessions["alpha"]),
    }[case]()
    connected, _ = await socket.connect()
    assert not connected


@pytest.mark.asyncio
async def test_a_redelivered_event_reaches_the_page_once(sessions):
    from channels.layers import get_channel_layer

    from tenants.events import EVENT_MESSAGE_TYPE, tenant_events_group

    socket = _socket(ALPHA.host, cookie=sessions["alpha"])
    assert (await socket.connect())[0]
    message = {"type": EVENT_MESSAGE_TYPE, "event": {"kind": "test", "id": "same-id"}}
    layer = get_channel_layer()
    for _ in range(2):  # what an at-least-once layer may do
        await layer.group_send(tenant_events_group(ALPHA.schema_name), message)
    assert (await socket.receive_json_from(timeout=10))["id"] == "same-id"
    assert await socket.receive_nothing(timeout=1)
    await socket.disconnect()


async def _closed_with(socket, timeout: float = 10) -> int | None:
    message = await socket.receive_output(timeout=timeout)
    assert message["type"] == "websocket.close", message
    return message.get("code")


@pytest.mark.asyncio
async def test_signing_out_closes_the_sessions_sockets_at_once(sessions):
    from asgiref.sync import sync_to_async
    from django.test import Client

    cookie = sessions["alpha"]
    socket = _socket(ALPHA.host, cookie=cookie)
    other = _socket(BETA.host, cookie=sessions["beta"])
    assert (await socket.connect())[0] and (await other.connect())[0]

    def sign_out():
        client = Client(HTTP_HOST=ALPHA.host)
        client.cookies["sessionid"] = cookie.split("=", 1)[1]
        assert client.post("/accounts/logout/").status_code == 302

    await sync_to_async(sign_out)()
    assert await _closed_with(socket) == 4401
    await _publish(BETA.schema_name, message="still here")  # beta's socket was not touched
    assert (await other.receive_json_from(timeout=10))["message"] == "still here"
    await other.disconnect()


@pytest.mark.asyncio
async def test_logging_a_token_out_closes_its_sockets_and_no_event_follows(sessions):
    from asgiref.sync import sync_to_async
    from django.test import Client

    token = await asyncio.to_thread(_token, ALPHA, ALPHA.owner)
    socket = _socket(ALPHA.host, token=token)
    assert (await socket.connect())[0]

    def log_out():
        client = Client(HTTP_HOST=ALPHA.host, HTTP_AUTHORIZATION=f"Token {token}")
        assert client.post("/api/v1/auth/logout/").status_code == 204

    await sync_to_async(log_out)()
    assert await _closed_with(socket) == 4401


@pytest.mark.asyncio
async def test_a_socket_whose_session_ended_otherwise_is_closed_on_recheck(sessions, settings):
    """Sessions also end without a logout (expiry, a changed password, a member
    deactivated): the periodic check closes the socket."""
    settings.FACET_WS_RECHECK_SECONDS = 0.2
    socket = _socket(ALPHA.host, cookie=sessions["alpha"])
    assert (await socket.connect())[0]

    def end_sessions():
        with schema_context(ALPHA.schema_name):
            Session.objects.all().delete()

    await asyncio.to_thread(end_sessions)
    assert await _closed_with(socket, timeout=10) == 4401


@pytest.fixture
def alpha_kiosk_key(committed):
    """A kiosk of alpha and its key, committed for the socket's thread."""
    from attendance import services
    from attendance.models import Kiosk

    with schema_context(ALPHA.schema_name):
        _, key = services.kiosk_create(name="Canary door")
    yield key
    with schema_context(ALPHA.schema_name):
        Kiosk.objects.all().delete()


def _kiosk_socket(host: str, key: str, origin: str | None = None):
    headers = [(b"host", host.encode()), (b"authorization", f"Kiosk {key}".encode())]
    if origin:
        headers.append((b"origin", origin.encode()))
    return WebsocketCommunicator(application, "/ws/kiosk/", headers=headers)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "case",
    [
        "alpha kiosk key on beta host",
        "foreign origin",
        "other tenant origin",
        "unknown host",
        "public host",
        "revoked key",
    ],
)
async def test_kiosk_sockets_are_refused(alpha_kiosk_key, case):
    """The kiosk socket (more in tests/attendance/test_socket.py, where a key sent
    as the first message on another tenant's host is refused too)."""
    key = alpha_kiosk_key
    if case == "revoked key":

        def revoke():
            from attendance import services
            from attendance.models import Kiosk

            with schema_context(ALPHA.schema_name):
                services.kiosk_revoke(kiosk=Kiosk.objects.get())

        await asyncio.to_thread(revoke)
    socket = {
        "alpha kiosk key on beta host": lambda: _kiosk_socket(BETA.host, key),
        "foreign origin": lambda: _kiosk_socket(ALPHA.host, key, "http://evil.example"),
        "other tenant origin": lambda: _kiosk_socket(ALPHA.host, key, f"http://{BETA.host}"),
        "unknown host": lambda: _kiosk_socket("nobody.localhost", key),
        "public host": lambda: _kiosk_socket("localhost", key),
        "revoked key": lambda: _kiosk_socket(ALPHA.host, key),
    }[case]()
    connected, _ = await socket.connect()
    assert not connected


@pytest.mark.asyncio
async def test_the_kiosk_socket_opens_with_its_key_on_its_host(alpha_kiosk_key):
    """Control for the refusals above."""
    socket = _kiosk_socket(ALPHA.host, alpha_kiosk_key, f"http://{ALPHA.host}")
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from(timeout=10))["kiosk"]["name"] == "Canary door"
    await socket.disconnect()
