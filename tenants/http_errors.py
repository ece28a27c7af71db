"""Error pages and their JSON twins, one shape for every failure.

Under ``/api/`` every error is JSON, ``{"code": "<machine code>", "detail":
"<sentence for a person>"}``, including the ones Django raises before a view
runs (a body too large, too many fields, an unknown path). Elsewhere the
portal's own templates answer, inside the portal shell.
"""

from __future__ import annotations

import functools
import logging
import sys

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django_tenants.utils import tenant_context

logger = logging.getLogger("facet.errors")

# A database that cannot take another connection right now: ask the client to
# come back instead of failing it (load passes; a 500 says something is broken).
BUSY_RETRY_AFTER_S = 5


def in_the_requests_schema(handler):
    """Render an error page in the tenant's schema, with the shell (navigation,
    the member, Sign out).

    Under ASGI, Django turns a view's exception into its error page in a fresh
    thread (``sync_to_async(response_for_exception, thread_sensitive=False)``),
    whose database connection is still on the public schema: the shell's
    context processor then saw no tenant and no member, and the 403 and 404
    pages lost the navigation and Sign out.
    """

    @functools.wraps(handler)
    def wrapper(request, *args, **kwargs):
        tenant = getattr(request, "tenant", None)
        if tenant is None or connection.schema_name == tenant.schema_name:
            return handler(request, *args, **kwargs)
        with tenant_context(tenant):
            return handler(request, *args, **kwargs)

    return wrapper


def is_api_request(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def error_json(status: int, code: str, detail: str, **extra) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail, **extra}, status=status)


def _answer(request, status: int, code: str, detail: str, template: str) -> HttpResponse:
    if is_api_request(request):
        return error_json(status, code, detail)
    return render(request, template, {"detail": detail}, status=status)


@in_the_requests_schema
def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return _answer(
            request, 413, "body-too-large", "The request body is larger than allowed.", "400.html"
        )
    if isinstance(exception, TooManyFieldsSent):
        return _answer(
            request, 400, "too-many-fields", "The request has too many form fields.", "400.html"
        )
    return _answer(request, 400, "bad-request", "The request could not be understood.", "400.html")


@in_the_requests_schema
def permission_denied(request, exception=None):
    detail = str(exception) if exception and str(exception) else "You may not do this."
    return _answer(request, 403, "permission-denied", detail, "403.html")


@in_the_requests_schema
def csrf_failure(request, reason: str = ""):
    """CSRF_FAILURE_VIEW: Django's own page has inline styles (refused by the
    policy) and no shell; say what happened and what to do, in the portal."""
    detail = (
        "This form could not be accepted: it was open for too long, or came from another "
        "site. Reload the page and try again."
    )
    return _answer(request, 403, "csrf-failed", detail, "403.html")


@in_the_requests_schema
def page_not_found(request, exception=None):
    return _answer(request, 404, "not-found", "There is nothing at this address.", "404.html")


def database_is_busy(exc: BaseException | None) -> bool:
    """The connection pool had no connection in time, or the server refused a new one."""
    from psycopg_pool import PoolTimeout, TooManyRequests

    while exc is not None:
        if isinstance(exc, PoolTimeout | TooManyRequests):
            return True
        if isinstance(exc, OperationalError) and "too many clients" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def service_busy(request) -> HttpResponse:
    detail = f"The service is busy; try again in {BUSY_RETRY_AFTER_S} seconds."
    if is_api_request(request):
        response = error_json(503, "busy", detail)
    else:
        # Without the request: the shell's context processors would need the database.
        page = loader.render_to_string("503.html", {"detail": detail})
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(BUSY_RETRY_AFTER_S)
    return response


def server_error(request):
    """Django calls this inside its exception handler: the cause is sys.exc_info()."""
    if database_is_busy(sys.exc_info()[1]):
        logger.warning("database busy: answered 503 to %s", request.path)
        return service_busy(request)
    if is_api_request(request):
        return error_json(500, "server-error", "Something went wrong on our side.")
    # Rendered without the request: the shell's context processors read the
    # database, which may be what failed.
    return HttpResponse(loader.render_to_string("500.html"), status=500)
