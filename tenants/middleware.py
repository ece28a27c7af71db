import ipaddress
import logging
import re
import time
import uuid

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden, JsonResponse
from django.template.loader import render_to_string
from django.utils.crypto import constant_time_compare

from . import health, metrics
from .log import bound

_HEALTH_PATHS = {"/health", "/health/", "/health/ready", "/health/ready/"}
# Served on the platform's own host, bare IPs and FACET_METRICS_HOSTS only, behind
# FACET_METRICS_TOKEN / FACET_METRICS_ALLOWED_IPS when they are set.
_OPERATOR_PATHS = {
    "/metrics": "metrics",
    "/metrics/": "metrics",
    "/health/detailed": "detailed",
    "/health/detailed/": "detailed",
    "/health/models": "models",
    "/health/models/": "models",
}
_QUIET_PATHS = _HEALTH_PATHS | set(_OPERATOR_PATHS)
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

access_log = logging.getLogger("facet.access")


def _host_name(host: str) -> str:
    if host.startswith("["):  # [::1]:8000
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(_host_name(host))
    except ValueError:
        return False
    return True


def is_platform_host(host: str) -> bool:
    """A bare IP, the platform's public host or an internal scrape host: never a tenant's."""
    name = _host_name(host).lower()
    return (
        _is_ip_address(host)
        or name == settings.FACET_PUBLIC_HOST.lower()
        or name in {h.lower() for h in settings.FACET_METRICS_HOSTS}
    )


def operator_access_refused(request) -> HttpResponse | None:
    """None when the caller may read /metrics and detailed health: no protection is
    configured, or its address is in FACET_METRICS_ALLOWED_IPS, or it sends
    ``Authorization: Bearer <FACET_METRICS_TOKEN>``. Otherwise the refusal."""
    from .security import client_ip

    token, allowed = settings.FACET_METRICS_TOKEN, settings.FACET_METRICS_ALLOWED_IPS
    if not token and not allowed:
        return None
    if allowed:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            address = None
        if address is not None and any(
            address in ipaddress.ip_network(entry, strict=False) for entry in allowed
        ):
            return None
    sent = request.META.get("HTTP_AUTHORIZATION", "")
    if token and constant_time_compare(sent, f"Bearer {token}"):
        return None
    response = JsonResponse(
        {"code": "forbidden", "detail": "Metrics and detailed health need the scrape token."},
        status=401 if token else 403,
    )
    if token:
        response["WWW-Authenticate"] = "Bearer"
    return response


def _operator_answer(request, kind: str) -> HttpResponse:
    refused = operator_access_refused(request)
    if refused is not None:
        return refused
    if kind == "metrics":
        return HttpResponse(metrics.render(), content_type=metrics.CONTENT_TYPE)
    report = health.detailed() if kind == "detailed" else health.models_report()
    return JsonResponse(report, status=200 if report["status"] != "down" else 503)


class RequestContextMiddleware:
    """Gives each request an id (its ``X-Request-ID`` if sane, else a new one, sent
    back in the response), binds it and the request to every record logged while
    it runs, and writes one access line with the status and duration."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        started = time.perf_counter()
        with bound(request_id=request.request_id, request=request):
            response = self.get_response(request)
            seconds = time.perf_counter() - started
            duration_ms = seconds * 1000
            metrics.request_observed(request.path, request.method, response.status_code, seconds)
            response["X-Request-ID"] = request.request_id
            # Probes and scrapes every few seconds would drown the rest.
            level = logging.DEBUG if request.path in _QUIET_PATHS else logging.INFO
            # The path without its query string: queries may carry tokens.
            access_log.log(
                level,
                "%s %s %s %.1fms",
                request.method,
                request.path,
                response.status_code,
                duration_ms,
                extra={
                    "event": "request",
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round(duration_ms, 2),
                },
            )
        return response


class HealthCheckMiddleware:
    """Answers /health and /health/ready before tenant routing or host checks, and
    /metrics, /health/detailed and /health/models on the platform's host and bare
    IPs (what scrapers use), never on tenant hosts (there they are a 404)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        kind = _OPERATOR_PATHS.get(request.path)
        if kind is not None:
            if is_platform_host(request.META.get("HTTP_HOST", "")):
                return _operator_answer(request, kind)
            return self.get_response(request)
        if request.path not in _HEALTH_PATHS:
            return self.get_response(request)
        if request.path.startswith("/health/ready"):
            report = health.readiness()
            return JsonResponse(report, status=200 if report["status"] == "ready" else 503)
        return JsonResponse({"status": "alive"})


class SuspendedTenantMiddleware:
    """A suspended tenant's host answers 403 on every route, API and pages alike."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        tenant = getattr(request, "tenant", None)
        if tenant is not None and getattr(tenant, "suspended_at", None):
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": "This organisation is suspended."}, status=403)
            return HttpResponseForbidden(
                render_to_string("tenants/suspended.html", {"tenant": tenant})
            )
        return self.get_response(request)


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's policy (settings.CONTENT_SECURITY_POLICY), with one relaxation:
    Django's admin and Swagger UI set inline style attributes, so their pages may
    apply inline styles. Scripts stay 'self' only on every page."""

    INLINE_STYLE_PREFIXES = ("/admin/", "/api/docs/")

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if request.path.startswith(self.INLINE_STYLE_PREFIXES):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts
