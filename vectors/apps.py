from django.apps import AppConfig


class VectorsConfig(AppConfig):
    """The tenant-side vector store: storage basis, HNSW indexes and the
    nearest-neighbour query over any registered embedding table."""

    name = "vectors"
    verbose_name = "Vectors"

    def ready(self) -> None:
        from . import tasks  # noqa: F401  (registers the tenant task)
