from django.contrib import admin
from django.db import connection
from django_tenants.utils import get_public_schema_name

from .models import Domain, Tenant


class PublicSchemaOnlyAdmin(admin.ModelAdmin):
    """Tenants are platform data: visible to platform staff on the public host only."""

    def has_module_permission(self, request):
        return connection.schema_name == get_public_schema_name() and super().has_module_permission(
            request
        )

    def has_view_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_view_permission(
            request, obj
        )

    def has_change_permission(self, request, obj=None):
        return connection.schema_name == get_public_schema_name() and super().has_change_permission(
            request, obj
        )

    def has_add_permission(self, request):
        # A tenant needs a schema, host and owner at once: `manage.py tenant create`.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting drops a schema and media: `manage.py tenant delete SLUG --yes`.
        return False


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(PublicSchemaOnlyAdmin):
    list_display = ("slug", "name", "schema_name", "created_at", "suspended_at")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "created_at")
    inlines = [DomainInline]


admin.site.site_header = "Facet administration"
admin.site.site_title = "Facet"
