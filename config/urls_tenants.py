"""URLs served on every tenant's host."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

urlpatterns = [
    path("", include("tenants.urls")),
    path("", include("recognition.urls")),
    path("", include("media_ingest.urls")),
    path("", include("search.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("tenants.api_urls")),
    path("api/v1/", include("media_ingest.api_urls")),
    path("api/v1/", include("search.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]
