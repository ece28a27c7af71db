from django.contrib import admin

from tenants.admin_site import ReadOnlyAdmin, tenant_admin_site

from .models import FaceCluster, IdentifyAudit, Person


@admin.register(Person, site=tenant_admin_site)
class PersonAdmin(admin.ModelAdmin):
    list_display = ("name", "external_id", "consent_basis", "consent_recorded_at")
    search_fields = ("name", "external_id")
    list_filter = ("consent_basis",)
    readonly_fields = ("consent_recorded_at", "consent_recorded_by", "photo")

    def has_add_permission(self, request):
        # People are added in the portal, which records the consent and enrols faces.
        return False


@admin.register(IdentifyAudit, site=tenant_admin_site)
class IdentifyAuditAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "user", "face_count")


@admin.register(FaceCluster, site=tenant_admin_site)
class FaceClusterAdmin(ReadOnlyAdmin):
    """For support: what discovery grouped (members name them in the portal)."""

    list_display = ("id", "size", "hidden", "face_model", "updated_at")
    list_filter = ("hidden",)
    exclude = ("embedding_sum",)
