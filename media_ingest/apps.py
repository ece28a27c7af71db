from django.apps import AppConfig


class MediaIngestConfig(AppConfig):
    name = "media_ingest"
    verbose_name = "Media"

    def ready(self) -> None:
        from tenants.access import Action
        from tenants.portal import register_count, register_nav
        from vectors.tables import register as register_embedding_table

        from .embeddings import FACE_TABLE
        from .models import Face, MediaFile

        register_embedding_table(FACE_TABLE)
        register_nav("Library", "media-library")
        register_nav("Upload", "media-upload", action=Action.ADD)
        register_nav("Faces", "face-browser")
        register_count("Files", MediaFile.objects.count)
        register_count("Faces", Face.objects.count)
        from . import maintenance, tasks  # noqa: F401  (register the tenant tasks)
