"""ASGI middleware that gives every WebSocket its tenant and user, or refuses it.

Channels' stock AuthMiddlewareStack looks users up in whatever schema the
shared connection happens to be on. Here the tenant is resolved from the Host
header first, then the session or token is checked inside that tenant's
schema. A foreign Origin is refused even when it is another tenant of the same
platform (a wildcard ALLOWED_HOSTS would let b.example.com in).
"""

from __future__ import annotations

from types import SimpleNamespace
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.auth.models import AnonymousUser
from django.utils.module_loading import import_string
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from .models import Domain


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _cookie(scope, name: str) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def origin_matches_host(scope) -> bool:
    """No Origin (a non-browser client) is fine; a browser's Origin must be this very host."""
    origin = _header(scope, b"origin")
    if origin is None:
        return True
    host = (_header(scope, b"host") or "").lower()
    return bool(host) and urlsplit(origin).netloc.lower() == host


@database_sync_to_async
def resolve_tenant_and_user(scope):
    """(tenant, user, credential) for the socket's Host and credentials."""
    hostname = (_header(scope, b"host") or "").split(":")[0].lower()
    with schema_context(get_public_schema_name()):
        domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    if domain is None:
        return None, None, None
    tenant = domain.tenant
    if tenant.schema_name == get_public_schema_name() or tenant.is_suspended:
        return None, None, None
    with tenant_context(tenant):
        user, credential = authenticate_socket(scope)
        return tenant, user, credential


def authenticate_socket(scope):
    """(user, credential) from the session cookie (the portal) or ``Authorization:
    Token`` (API clients); credential is ``("session" | "token", key)`` or None.

    Call inside the tenant's schema: both sessions and tokens live there. The
    socket calls it again while it stays open, so a session that ends, a token
    that expires or a member who is deactivated stops receiving events.
    """
    authorization = _header(scope, b"authorization") or ""
    prefix, _, token = authorization.partition(" ")
    if prefix == "Token" and token:
        from knox.auth import TokenAuthentication
        from rest_framework.exceptions import AuthenticationFailed

        try:
            user, auth_token = TokenAuthentication().authenticate_credentials(token.encode())
        except AuthenticationFailed:
            return AnonymousUser(), None
        return user, ("token", auth_token.token_key)
    session_key = _cookie(scope, settings.SESSION_COOKIE_NAME)
    if not session_key:
        return AnonymousUser(), None
    session = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
    # get_user checks the session's auth hash, so a changed password logs sockets out too.
    return get_user(SimpleNamespace(session=session)), ("session", session_key)


class TenantWebsocketMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        if not origin_matches_host(scope):
            return await WebsocketDenier()(scope, receive, send)
        tenant, user, credential = await resolve_tenant_and_user(scope)
        if tenant is None:
            return await WebsocketDenier()(scope, receive, send)
        scope = dict(scope, tenant=tenant, user=user, credential=credential)
        return await self.inner(scope, receive, send)
