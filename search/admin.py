from django.contrib import admin

from tenants.admin_site import tenant_admin_site

from .models import SearchAudit


@admin.register(SearchAudit, site=tenant_admin_site)
class SearchAuditAdmin(admin.ModelAdmin):
    """Read-only: an audit log that can be edited is not one."""

    list_display = ("created_at", "user", "query_kind", "result_count", "served_from_cache")
    list_filter = ("query_kind", "served_from_cache")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
