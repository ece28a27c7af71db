"""Writes that shape tenants and their members. Views and commands call these."""

from __future__ import annotations

import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from .models import Domain, Tenant
from .roles import Role, ensure_roles, forget_role


class TenantError(Exception):
    """A tenant operation that cannot be done, with a reason fit for the operator."""


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    owner_email: str
    owner_password: str
    password_generated: bool


def generate_password() -> str:
    return secrets.token_urlsafe(12)


def public_tenant_ensure(*, domain: str) -> Tenant:
    """The public schema's tenant row and host: django-tenants routes the landing page by it."""
    public = get_public_schema_name()
    tenant, _ = Tenant.objects.get_or_create(
        schema_name=public, defaults={"slug": "public", "name": "Facet platform"}
    )
    Domain.objects.get_or_create(domain=domain, defaults={"tenant": tenant, "is_primary": True})
    return tenant


def tenant_create(
    *,
    slug: str,
    domain: str,
    owner_email: str,
    owner_password: str | None = None,
    name: str | None = None,
) -> CreatedTenant:
    """Create the tenant's schema (migrated), its host name, roles and owner account."""
    try:
        validate_email(owner_email)
    except ValidationError:
        raise TenantError(f"{owner_email!r} is not an e-mail address.") from None
    if Tenant.objects.filter(slug=slug).exists():
        raise TenantError(f"A tenant with slug {slug!r} already exists.")
    if Domain.objects.filter(domain=domain).exists():
        raise TenantError(f"The host {domain!r} already belongs to a tenant.")

    tenant = Tenant(slug=slug, name=name or slug, schema_name=Tenant.schema_name_for(slug))
    try:
        tenant.full_clean()
    except ValidationError as exc:
        raise TenantError("; ".join(exc.messages)) from None
    tenant.save(verbosity=0)  # creates and migrates the schema
    try:
        with transaction.atomic():
            Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
            password = owner_password or generate_password()
            with schema_context(tenant.schema_name):
                ensure_roles()
                member_create(email=owner_email, role=Role.OWNER, password=password)
    except Exception:
        # No half-made tenant: a schema without its host or owner is unreachable.
        tenant.delete(force_drop=True)
        raise
    return CreatedTenant(tenant, owner_email, password, password_generated=not owner_password)


def tenant_suspend(*, tenant: Tenant) -> Tenant:
    if not tenant.is_suspended:
        tenant.suspended_at = timezone.now()
        tenant.save(update_fields=["suspended_at"])
    return tenant


def tenant_resume(*, tenant: Tenant) -> Tenant:
    if tenant.is_suspended:
        tenant.suspended_at = None
        tenant.save(update_fields=["suspended_at"])
    return tenant


def tenant_set_quota(*, tenant: Tenant, megabytes: int | None) -> Tenant:
    """Limit the tenant's stored originals to ``megabytes`` (0: no limit; None: the default)."""
    tenant.storage_quota_mb = megabytes
    tenant.save(update_fields=["storage_quota_mb"])
    return tenant


def tenant_media_root(tenant: Tenant) -> Path:
    return Path(settings.MEDIA_ROOT) / tenant.schema_name


def tenant_delete(*, tenant: Tenant) -> None:
    """Drop the schema with every row in it, the host names and the tenant's media."""
    if tenant.schema_name == get_public_schema_name():
        raise TenantError("The public schema is the platform itself and cannot be deleted.")
    media_root = tenant_media_root(tenant)
    schema_name = tenant.schema_name
    tenant.delete(force_drop=True)
    if settings.FACET_STORAGE == "s3":
        from .storage import delete_tenant_objects

        delete_tenant_objects(schema_name)
    else:
        shutil.rmtree(media_root, ignore_errors=True)


def member_create(*, email: str, role: Role, password: str | None = None):
    """Add a user to the current tenant with one role. Call inside the tenant's schema.

    The e-mail address is the username: it is what people type to sign in.
    """
    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    if User.objects.filter(username=email).exists():
        raise TenantError(f"{email} is already a member.")
    user = User.objects.create_user(username=email, email=email, password=password)
    member_set_role(user=user, role=role)
    return user


def member_set_role(*, user, role: Role) -> None:
    """Give the user exactly this role; owners and admins may use the Django admin."""
    groups = ensure_roles()
    user.groups.set([groups[role]])
    forget_role(user)
    user.is_staff = role.manages_tenant
    user.save(update_fields=["is_staff"])
