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


# --- members, as an owner or admin changes them in the portal -----------------
#
# Every change is audited twice: a line in the security log ("facet.security",
# with the actor, the member and what changed; the log's own time stamp says
# when), and an entry in the tenant's admin history (django.contrib.admin's
# LogEntry, in the tenant's schema), which the members page lists.


class MemberRefused(TenantError):
    """A member change the rules forbid (the last owner, an admin touching an owner)."""


def _active_owners_locked() -> list:
    """The tenant's active owners, their rows locked until the transaction ends, so
    that two owners demoting each other at once cannot leave the tenant with none."""
    User = get_user_model()
    return list(
        User.objects.select_for_update(of=("self",))
        .filter(is_active=True, groups__name=Role.OWNER.value)
        .order_by("pk")
    )


def _refuse_unless_allowed(*, actor, user=None, role: Role | None = None) -> None:
    """Owners are changed, and the owner role is given, by owners only."""
    from .roles import role_of

    if actor is None:  # a management command: the operator of the platform
        return
    touches_owner = role is Role.OWNER or (user is not None and role_of(user) is Role.OWNER)
    if touches_owner and role_of(actor) is not Role.OWNER:
        raise MemberRefused("Only owners can make someone an owner or change an owner's access.")


def _refuse_last_owner(user, what: str) -> None:
    from .roles import role_of

    if role_of(user) is not Role.OWNER or not user.is_active:
        return
    owners = _active_owners_locked()
    if [owner.pk for owner in owners] == [user.pk]:
        raise MemberRefused(
            f"{user.email or user.username} is the last owner: make another member an owner "
            f"before you {what} them."
        )


def _refuse_self(*, actor, user, what: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise MemberRefused(f"You cannot {what} yourself; ask another owner or admin.")


def _audit_member(*, actor, user, event: str, message: str, flag: int, **details) -> None:
    import logging

    from django.contrib.admin.models import LogEntry
    from django.db import connection

    logging.getLogger("facet.security").info(
        message,
        extra={
            "event": event,
            "actor_id": getattr(actor, "pk", None),
            "actor": getattr(actor, "email", "") or getattr(actor, "username", ""),
            "member_id": user.pk,
            "member": user.email or user.username,
            "schema": connection.schema_name,
            **details,
        },
    )
    if actor is not None:  # the history needs a user; commands are in the log only
        LogEntry.objects.log_actions(
            user_id=actor.pk,
            queryset=[user],
            action_flag=flag,
            change_message=message,
            single_object=True,
        )


def _end_sign_ins_of(user) -> None:
    """Sign the user out everywhere: their sessions and API tokens go, and the live
    sockets opened with them are closed once the change is committed."""
    from django.contrib.auth import SESSION_KEY
    from django.contrib.sessions.models import Session
    from django.db import connection
    from knox.models import AuthToken

    from .events import close_credential_sockets

    schema = connection.schema_name
    credentials = []
    for session in Session.objects.filter(expire_date__gt=timezone.now()):
        if str(session.get_decoded().get(SESSION_KEY)) == str(user.pk):
            credentials.append(("session", session.session_key))
            session.delete()
    for token in AuthToken.objects.filter(user=user):
        credentials.append(("token", token.token_key))
    AuthToken.objects.filter(user=user).delete()

    def close():
        for kind, key in credentials:
            close_credential_sockets(schema_name=schema, kind=kind, key=key)

    transaction.on_commit(close)


def member_add(*, actor, email: str, role: Role, password: str):
    """A member added by an owner or admin, audited."""
    from django.contrib.admin.models import ADDITION

    _refuse_unless_allowed(actor=actor, role=role)
    with transaction.atomic():
        user = member_create(email=email, role=role, password=password)
        _audit_member(
            actor=actor,
            user=user,
            event="member_added",
            message=f"Added as {role.value}.",
            flag=ADDITION,
            role=role.value,
        )
    return user


def member_change_role(*, actor, user, role: Role) -> None:
    from django.contrib.admin.models import CHANGE

    from .roles import role_of

    _refuse_unless_allowed(actor=actor, user=user, role=role)
    old = role_of(user)
    if old is role:
        return
    with transaction.atomic():
        if role is not Role.OWNER:
            _refuse_last_owner(user, "change the role of")
        member_set_role(user=user, role=role)
        _audit_member(
            actor=actor,
            user=user,
            event="member_role_changed",
            message=f"Role changed from {old.value if old else 'none'} to {role.value}.",
            flag=CHANGE,
            old_role=old.value if old else None,
            role=role.value,
        )


def member_deactivate(*, actor, user) -> None:
    """The member can no longer sign in, and is signed out now; nothing of theirs is deleted."""
    from django.contrib.admin.models import CHANGE

    _refuse_self(actor=actor, user=user, what="deactivate")
    _refuse_unless_allowed(actor=actor, user=user)
    if not user.is_active:
        return
    with transaction.atomic():
        _refuse_last_owner(user, "deactivate")
        user.is_active = False
        user.save(update_fields=["is_active"])
        _end_sign_ins_of(user)
        _audit_member(
            actor=actor, user=user, event="member_deactivated", message="Deactivated.", flag=CHANGE
        )


def member_reactivate(*, actor, user) -> None:
    from django.contrib.admin.models import CHANGE

    _refuse_unless_allowed(actor=actor, user=user)
    if user.is_active:
        return
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        _audit_member(
            actor=actor, user=user, event="member_reactivated", message="Reactivated.", flag=CHANGE
        )


def member_remove(*, actor, user) -> None:
    """Delete the account. What the member did stays, without their name (the
    records keep a null user), but for the admin history entries they made,
    which Django deletes with their author (the security log keeps them);
    deactivating keeps everything."""
    from django.contrib.admin.models import DELETION

    _refuse_self(actor=actor, user=user, what="remove")
    _refuse_unless_allowed(actor=actor, user=user)
    with transaction.atomic():
        _refuse_last_owner(user, "remove")
        _audit_member(
            actor=actor, user=user, event="member_removed", message="Removed.", flag=DELETION
        )
        _end_sign_ins_of(user)
        user.delete()
