from django.core.validators import RegexValidator
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

SLUG_PATTERN = r"^[a-z][a-z0-9-]{1,39}$"


class Tenant(TenantMixin):
    """An organisation: its own schema, host names, media prefix and users."""

    slug = models.CharField(
        max_length=40,
        unique=True,
        validators=[RegexValidator(SLUG_PATTERN, "Lower-case letters, digits and dashes.")],
    )
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    # Originals this tenant may keep, in MB; empty: the platform's default
    # (FACET_TENANT_STORAGE_QUOTA_MB, where 0 means no limit).
    storage_quota_mb = models.PositiveIntegerField(null=True, blank=True)

    # Schemas are created on save; dropping one is an explicit service call.
    auto_create_schema = True
    auto_drop_schema = False

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None

    @property
    def storage_quota_bytes(self) -> int | None:
        """The limit on this tenant's originals, or None for no limit."""
        from django.conf import settings

        mb = self.storage_quota_mb
        if mb is None:
            mb = settings.FACET_TENANT_STORAGE_QUOTA_MB
        return mb * 1024 * 1024 if mb else None

    @staticmethod
    def schema_name_for(slug: str) -> str:
        return "t_" + slug.replace("-", "_")


class Domain(DomainMixin):
    """A host name that routes to one tenant (the public schema has one too)."""

    def __str__(self) -> str:
        return self.domain
