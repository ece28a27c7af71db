"""Roles inside a tenant: owner, admin, operator, viewer.

A role is a Django group in the tenant's schema. Its permissions are derived
from rules rather than listed, so a feature app that adds models gets sensible
role permissions on its next migration without touching this module.
"""

from __future__ import annotations

from enum import StrEnum

from django.apps import apps as django_apps
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django_tenants.utils import get_public_schema_name

# Apps whose permissions manage the tenant itself rather than its data.
_ADMINISTRATION_APPS = {"auth", "admin", "contenttypes", "sessions", "knox"}


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"

    @property
    def manages_tenant(self) -> bool:
        """Owners and admins manage members and reach the Django admin."""
        return self in (Role.OWNER, Role.ADMIN)

    @property
    def adds_and_changes(self) -> bool:
        """Everyone but viewers adds and changes data (uploads, people)."""
        return self is not Role.VIEWER

    @property
    def deletes(self) -> bool:
        """Deleting data (media, faces, people) is for owners and admins."""
        return self.manages_tenant


def _tenant_app_labels() -> set[str]:
    """Apps whose tables live in tenant schemas: the only ones a role may touch."""
    return {
        config.label
        for config in django_apps.get_app_configs()
        if config.name in settings.TENANT_APPS
    }


def _grants(role: Role, permission: Permission, tenant_apps: set[str]) -> bool:
    app = permission.content_type.app_label
    action = permission.codename.split("_", 1)[0]
    if app not in tenant_apps:
        # Shared apps (the task queue, tenants, the model registry) are the
        # platform's: no tenant role holds a permission on them, whatever it is.
        return False
    if role.manages_tenant:
        return True
    if app in _ADMINISTRATION_APPS:
        return False
    if role is Role.OPERATOR:
        # Operators add and change the tenant's data; deleting it (biometric
        # data, often on request of the person) is for owners and admins.
        return action in {"add", "change", "view"}
    return action == "view"


def ensure_roles() -> dict[Role, Group]:
    """Create the four role groups in the current schema and sync their permissions.

    Call inside a tenant's schema context. Idempotent.
    """
    permissions = list(Permission.objects.select_related("content_type"))
    tenant_apps = _tenant_app_labels()
    groups = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set([p for p in permissions if _grants(role, p, tenant_apps)])
        groups[role] = group
    return groups


def role_of(user) -> Role | None:
    """The user's role in the current tenant (the highest, should several be set).

    Kept on the user object per schema: a request asks once, however many
    views, templates and checks want it (``member_set_role`` forgets it).
    """
    known = user.__dict__.setdefault("_tenant_roles", {})
    schema = connection.schema_name
    if schema not in known:
        names = {group.name for group in user.groups.all()}
        known[schema] = next((role for role in Role if role.value in names), None)
    return known[schema]


def forget_role(user) -> None:
    user.__dict__.pop("_tenant_roles", None)


def sync_roles_after_migrate(sender, apps=None, **kwargs) -> None:
    """post_migrate fires once per installed app; act on the last, when every
    app's permissions exist. Tenant schemas only: the public schema has no roles."""
    if connection.schema_name == get_public_schema_name():
        return
    if sender is not list(django_apps.get_app_configs())[-1]:
        return
    ensure_roles()
