"""The two admin sites: the tenant's (its own schema only) and the platform's."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django_tenants.utils import schema_context

from tenants.admin_site import TenantAdminSite, is_tenant_model
from tenants.models import Tenant
from tenants.roles import Role


def test_a_shared_model_cannot_be_registered_on_the_tenant_admin():
    from django_q.models import Schedule

    site = TenantAdminSite(name="probe")
    for model in (Schedule, Tenant):
        with pytest.raises(ImproperlyConfigured, match="shared schema"):
            site.register(model)


def test_no_role_holds_a_permission_on_a_shared_app(alpha):
    with schema_context(alpha.schema_name):
        for role in Role:
            perms = Group.objects.get(name=role.value).permissions.select_related("content_type")
            shared = {
                f"{p.content_type.app_label}.{p.codename}"
                for p in perms
                if not is_tenant_model(p.content_type.model_class() or Group)
            }
            assert not shared, f"{role}: {sorted(shared)[:5]}"
        owner = Group.objects.get(name="owner").permissions.values_list("codename", flat=True)
        assert "add_schedule" not in owner and "change_tenant" not in owner
        assert "delete_mediafile" in owner


def test_operators_add_and_change_but_do_not_delete(alpha):
    with schema_context(alpha.schema_name):
        codenames = set(
            Group.objects.get(name="operator").permissions.values_list("codename", flat=True)
        )
    assert {"add_mediafile", "change_mediafile", "view_mediafile"} <= codenames
    assert not any(codename.startswith("delete_") for codename in codenames)


def test_the_owner_cannot_make_anyone_superuser_from_the_tenant_admin(alpha):
    client = alpha.client(alpha.owner)
    with schema_context(alpha.schema_name):
        viewer = alpha.user(alpha.viewer)
    page = client.get(f"/admin/auth/user/{viewer.pk}/change/")
    assert page.status_code == 200
    assert b"is_superuser" not in page.content and b"user_permissions" not in page.content
    client.post(
        f"/admin/auth/user/{viewer.pk}/change/",
        {"username": viewer.username, "email": viewer.email, "is_active": "on",
         "is_superuser": "on", "is_staff": "on"},
    )  # fmt: skip
    with schema_context(alpha.schema_name):
        viewer.refresh_from_db()
        assert not viewer.is_superuser and not viewer.is_staff


def test_the_platform_admin_lists_django_q_for_platform_staff(db):
    from django.contrib.auth import get_user_model
    from django.test import Client

    staff = get_user_model().objects.create_superuser("ops@platform.test", "ops@platform.test", "x")
    client = Client(HTTP_HOST="localhost")
    client.force_login(staff)
    assert client.get("/admin/django_q/schedule/").status_code == 200
    assert any(m._meta.label == "django_q.Schedule" for m in admin.site._registry)
