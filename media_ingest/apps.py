from django.apps import AppConfig


class MediaIngestConfig(AppConfig):
    name = "media_ingest"
    verbose_name = "Media"

    def ready(self) -> None:
        from tenants.portal import register_count, register_nav
        from tenants.roles import Role
        from tenants.tasks import schedule_every

        from .models import Face, MediaFile

        register_nav("Library", "media-library")
        register_nav("Upload", "media-upload", roles={Role.OWNER, Role.ADMIN, Role.OPERATOR})
        register_nav("Faces", "face-browser")
        register_count("Files", MediaFile.objects.count)
        register_count("Faces", Face.objects.count)
        schedule_every(
            self,
            name="Re-queue stuck media",
            func="media_ingest.maintenance.requeue_stuck_media_everywhere",
            minutes=5,
        )
