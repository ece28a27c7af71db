"""URLs served on every tenant's host."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from tenants.admin_site import tenant_admin_site

urlpatterns = [
    path("", include("tenants.urls")),
    path("", include("recognition.urls")),
    path("", include("media_ingest.urls")),
    path("", include("search.urls")),
    path("", include("people.urls")),
    path("", include("attendance.urls")),
    # The tenant's own admin site: tenant-schema models only (see tenants.admin_site).
    path("admin/", tenant_admin_site.urls),
    path("api/v1/", include("tenants.api_urls")),
    path("api/v1/", include("media_ingest.api_urls")),
    path("api/v1/", include("search.api_urls")),
    path("api/v1/", include("people.api_urls")),
    path("api/v1/", include("attendance.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up code as a script file: no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]

handler400 = "tenants.http_errors.bad_request"
handler403 = "tenants.http_errors.permission_denied"
handler404 = "tenants.http_errors.page_not_found"
handler500 = "tenants.http_errors.server_error"
