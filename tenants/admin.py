from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

from .admin_site import tenant_admin_site
from .models import Domain, Tenant

# --- the platform's admin (public host, platform staff) ------------------------


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    """Tenants are platform data: this site is mounted on the public host only."""

    list_display = ("slug", "name", "schema_name", "created_at", "suspended_at")
    search_fields = ("slug", "name")
    readonly_fields = ("schema_name", "created_at")
    inlines = [DomainInline]

    def has_add_permission(self, request):
        # A tenant needs a schema, host and owner at once: `manage.py tenant create`.
        return False

    def has_delete_permission(self, request, obj=None):
        # Deleting drops a schema and media: `manage.py tenant delete SLUG --yes`.
        return False


admin.site.site_header = "Facet platform administration"
admin.site.site_title = "Facet"


# --- the tenant's admin (tenant hosts, owners and admins) ----------------------


@admin.register(get_user_model(), site=tenant_admin_site)
class MemberAdmin(UserAdmin):
    """The tenant's own accounts. Roles are given on the Members page, where they
    stay one of four; the flags and raw permissions that would step outside a
    role (superuser, per-user permissions) are not offered here."""

    list_display = ("username", "email", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Status", {"fields": ("is_active", "last_login", "date_joined")}),
    )
    readonly_fields = ("last_login", "date_joined")

    def has_add_permission(self, request):
        # Members are added on the Members page, which gives them a role.
        return False


# Failed sign-ins of this tenant's accounts; deleting a row unlocks at once.
tenant_admin_site.register(AccessAttempt, AccessAttemptAdmin)
