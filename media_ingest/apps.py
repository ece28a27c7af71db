from django.apps import AppConfig
from django.db.models.signals import post_migrate


class MediaIngestConfig(AppConfig):
    name = "media_ingest"
    verbose_name = "Media"

    def ready(self) -> None:
        from tenants.portal import register_count, register_nav
        from tenants.roles import Role

        from .models import Face, MediaFile

        register_nav("Library", "media-library")
        register_nav("Upload", "media-upload", roles={Role.OWNER, Role.ADMIN, Role.OPERATOR})
        register_nav("Faces", "face-browser")
        register_count("Files", MediaFile.objects.count)
        register_count("Faces", Face.objects.count)
        post_migrate.connect(schedule_after_migrate, sender=self, dispatch_uid="media.schedule")


def schedule_after_migrate(sender, **kwargs) -> None:
    from django.db import connection
    from django_tenants.utils import get_public_schema_name

    if connection.schema_name == get_public_schema_name():
        from .maintenance import schedule_reconciler

        schedule_reconciler()
