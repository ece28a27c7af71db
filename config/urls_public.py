"""URLs of the platform's own host (FACET_PUBLIC_HOST): landing page, staff admin.

/metrics and detailed health are answered before routing, on this host and bare
IPs only (tenants.middleware.HealthCheckMiddleware)."""

from django.contrib import admin
from django.urls import path

from tenants.views import favicon, public_landing

urlpatterns = [
    path("", public_landing, name="landing"),
    path("admin/", admin.site.urls),
    path("favicon.ico", favicon, name="favicon"),
]

handler400 = "tenants.http_errors.bad_request"
handler403 = "tenants.http_errors.permission_denied"
handler404 = "tenants.http_errors.page_not_found"
handler500 = "tenants.http_errors.server_error"
