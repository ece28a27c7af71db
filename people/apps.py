from django.apps import AppConfig


class PeopleConfig(AppConfig):
    """People with consent, their enrolled faces, "who is this?", and names on
    the catalogue's faces (a tenant app on the vectors layer)."""

    name = "people"
    verbose_name = "People"

    def ready(self) -> None:
        from media_ingest import annotations
        from media_ingest.signals import faces_removing, faces_stored
        from tenants.access import Action
        from tenants.portal import register_count, register_nav
        from vectors.basis import basis_changed
        from vectors.tables import register as register_embedding_table

        from . import maintenance, tasks  # noqa: F401 - their tasks registered for tenants.E001
        from .embeddings import ENROLLED_TABLE, REJECTED_TABLE
        from .models import Person
        from .selectors import PeopleFaceNames

        register_embedding_table(ENROLLED_TABLE)
        register_embedding_table(REJECTED_TABLE)
        annotations.register(PeopleFaceNames())
        register_nav("People", "people-list")
        register_nav("People to name", "clusters-list")
        register_nav("Who is this?", "identify")
        register_nav("Identify log", "identify-audit", action=Action.MANAGE)
        register_nav("Threshold", "people-threshold", action=Action.MANAGE)
        register_count("People", Person.objects.count)
        # A processed file's faces are matched against the galleries and placed
        # into discovery's clusters; clusters that lose faces are recounted.
        faces_stored.connect(tasks.name_and_place_stored_faces, dispatch_uid="people.media_faces")
        faces_removing.connect(tasks.queue_cluster_refresh, dispatch_uid="people.cluster_refresh")
        basis_changed.connect(tasks.queue_basis_refresh, dispatch_uid="people.cluster_basis")
