from django.contrib import admin

from tenants.admin_site import ReadOnlyAdmin, tenant_admin_site

from .models import SearchAudit


@admin.register(SearchAudit, site=tenant_admin_site)
class SearchAuditAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "query_kind", "result_count", "served_from_cache")
    list_filter = ("query_kind", "served_from_cache")
