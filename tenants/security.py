"""Sign-in security: the client's address, lock-out answers, security events.

django-axes counts failed sign-ins per account and per address on every path
that authenticates (portal, both admin sites, the token API) and locks either
out for a cool-off. The address is read through ``client_ip`` only, which
trusts X-Forwarded-For exactly as far as FACET_TRUSTED_PROXIES says: a client
cannot pick a new address per guess by sending the header itself.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db import connection
from django.dispatch import receiver
from django.shortcuts import render

from .http_errors import error_json, is_api_request
from .metrics import LOGIN_FAILURES

security_log = logging.getLogger("facet.security")


def client_ip(request) -> str:
    """The client's address: the socket's peer, or with N trusted proxies in front,
    the address the outermost of them saw (Nth from the right in X-Forwarded-For)."""
    meta = getattr(request, "META", {})
    remote = meta.get("REMOTE_ADDR", "")
    proxies = settings.FACET_TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    hops = [hop.strip() for hop in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    if not hops:
        return remote
    return hops[-min(proxies, len(hops))]


def login_username(request, credentials) -> str:
    """Accounts are e-mail addresses, stored lower-case: count guesses the same way,
    so that changing the case of a name does not open a fresh allowance."""
    return str((credentials or {}).get("username") or "").strip().lower()


def lockout_seconds() -> int:
    return int(settings.AXES_COOLOFF_TIME.total_seconds())


def lockout_response(request, *_args, **_kwargs):
    """What a locked-out sign-in gets: JSON under /api/, the sign-in page elsewhere.

    (Axes calls this with differing trailing arguments in its sync and async
    paths; nothing here needs them.)
    """
    minutes = max(1, lockout_seconds() // 60)
    detail = (
        f"Too many failed sign-ins for this account or address. Try again in {minutes} "
        "minutes, or ask an administrator of your organisation to unlock it."
    )
    if is_api_request(request):
        response = error_json(429, "locked-out", detail)
    else:
        response = render(request, "tenants/locked_out.html", {"detail": detail}, status=429)
    response["Retry-After"] = str(lockout_seconds())
    return response


@receiver(user_login_failed, dispatch_uid="facet.security.login_failed")
def log_failed_login(sender, credentials, request=None, **kwargs) -> None:
    # Django has already replaced the password in ``credentials`` with stars;
    # only the account name and where the guess came from are written.
    LOGIN_FAILURES.inc()
    security_log.warning(
        "sign-in failed",
        extra={
            "event": "login_failed",
            "username": login_username(request, credentials),
            "client_ip": client_ip(request) if request is not None else "",
            "path": getattr(request, "path", ""),
            "schema": connection.schema_name,
            "locked_out": bool(getattr(request, "axes_locked_out", False)),
        },
    )


@receiver(user_logged_in, dispatch_uid="facet.security.logged_in")
def log_login(sender, request=None, user=None, **kwargs) -> None:
    security_log.info(
        "signed in",
        extra={
            "event": "login",
            "user_id": getattr(user, "pk", None),
            "client_ip": client_ip(request) if request is not None else "",
            "schema": connection.schema_name,
        },
    )


@receiver(user_logged_out, dispatch_uid="facet.security.close_sockets")
def close_sockets_of_the_credential(sender, request=None, user=None, **kwargs) -> None:
    """A session or token that is logged out stops receiving events at once."""
    from knox.models import AuthToken

    from .events import close_credential_sockets

    if request is None:
        return
    auth = getattr(request, "auth", None)
    if isinstance(auth, AuthToken):
        kind, key = "token", auth.token_key
    else:
        kind, key = "session", getattr(getattr(request, "session", None), "session_key", None)
    if key:
        close_credential_sockets(schema_name=connection.schema_name, kind=kind, key=key)
