"""The Django admin served on tenant hosts.

Tenant owners and admins reach ``/admin/`` on their own host. That admin is a
separate site from the platform's (``django.contrib.admin.site``, public host
only): it can register only models whose tables live in the tenant's schema,
so no shared row (another tenant, the task queue, the model registry) is ever
listed, added or changed from a tenant host. django-q2 and other shared apps
register on the platform's site and never appear here.
"""

from __future__ import annotations

from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured


def is_tenant_model(model) -> bool:
    """True when ``model``'s table exists in every tenant schema (its app is a tenant app)."""
    config = apps.get_app_config(model._meta.app_label)
    return config.name in settings.TENANT_APPS


class TenantAdminSite(admin.AdminSite):
    site_header = "Organisation administration"
    site_title = "Facet"
    index_title = "Your organisation's data"

    @property
    def login_form(self):
        from .forms import EmailAdminAuthenticationForm

        return EmailAdminAuthenticationForm

    def register(self, model_or_iterable, admin_class=None, **options):
        models = [model_or_iterable] if isinstance(model_or_iterable, type) else model_or_iterable
        for model in models:
            if not is_tenant_model(model):
                raise ImproperlyConfigured(
                    f"{model._meta.label} lives in the shared schema: register it on the "
                    "platform's admin (django.contrib.admin.site), never on tenant hosts."
                )
        return super().register(model_or_iterable, admin_class, **options)

    def has_permission(self, request) -> bool:
        """Active owners and admins of this tenant (``is_staff`` follows the role)."""
        from .roles import role_of

        user = request.user
        if not (user.is_active and user.is_staff):
            return False
        role = role_of(user)
        return role is not None and role.manages_tenant


tenant_admin_site = TenantAdminSite(name="admin")


class ReadOnlyAdmin(admin.ModelAdmin):
    """For audit logs: an audit log that can be edited is not one."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
