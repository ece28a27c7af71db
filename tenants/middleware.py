import ipaddress

from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware
from django.http import HttpResponseForbidden, JsonResponse
from django.template.loader import render_to_string

from . import health

_HEALTH_PATHS = {"/health", "/health/", "/health/ready", "/health/ready/"}


def _is_ip_address(host: str) -> bool:
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


class HealthCheckMiddleware:
    """Answers /health and /health/ready before tenant routing or host checks,
    and /metrics to scrapers that address the process by IP (never on tenant hosts)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path == "/metrics" and _is_ip_address(request.META.get("HTTP_HOST", "")):
            from django_prometheus.exports import ExportToDjangoView

            return ExportToDjangoView(request)
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
