from django.apps import AppConfig


class VectorsConfig(AppConfig):
    """The tenant-side vector store: storage basis, HNSW indexes and the
    nearest-neighbour query over any registered embedding table."""

    name = "vectors"
    verbose_name = "Vectors"

    def ready(self) -> None:
        from tenants.backup import register_part

        from . import backup, tasks  # noqa: F401  (tasks registers the tenant task)

        register_part(backup.PART)
