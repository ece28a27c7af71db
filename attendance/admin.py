from django.contrib import admin

from tenants.admin_site import ReadOnlyAdmin, tenant_admin_site

from .models import AttendanceSettings, Correction, Group, Kiosk, Mark, Session, UnknownFace


@admin.register(AttendanceSettings, site=tenant_admin_site)
class AttendanceSettingsAdmin(admin.ModelAdmin):
    list_display = ("__str__", "keep_mark_crops", "keep_unknown_faces", "unknown_retention_days")

    def has_add_permission(self, request):
        # One row (selectors.attendance_settings reads it); the defaults until added.
        return super().has_add_permission(request) and not AttendanceSettings.objects.exists()


@admin.register(Kiosk, site=tenant_admin_site)
class KioskAdmin(admin.ModelAdmin):
    list_display = ("name", "location", "cooldown_minutes", "key_prefix", "revoked_at")
    # Keys are issued, rotated and revoked in the portal (the key is shown once there).
    readonly_fields = ("key_digest", "key_prefix", "key_issued_at", "revoked_at", "last_seen_at")

    def has_add_permission(self, request):
        return False


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0


@admin.register(Group, site=tenant_admin_site)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name",)
    filter_horizontal = ("members",)
    inlines = [SessionInline]


@admin.register(Mark, site=tenant_admin_site)
class MarkAdmin(ReadOnlyAdmin):
    """The record is corrected in the portal, audited: never edited here."""

    list_display = ("at", "person", "kiosk", "source", "similarity", "removed_at")
    list_filter = ("source",)


@admin.register(Correction, site=tenant_admin_site)
class CorrectionAdmin(ReadOnlyAdmin):
    list_display = ("made_at", "kind", "mark", "made_by", "reason")


@admin.register(UnknownFace, site=tenant_admin_site)
class UnknownFaceAdmin(admin.ModelAdmin):
    """Unrecognised faces kept for review (only when the tenant keeps them):
    read-only, deletable; the retention task deletes the rest."""

    list_display = ("seen_at", "kiosk", "similarity", "crop")
    list_filter = ("kiosk",)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
