from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from media_ingest.annotations import names_changed
        from media_ingest.models import MediaFile
        from media_ingest.signals import faces_removing, faces_stored
        from tenants.access import Action
        from tenants.portal import register_nav
        from vectors.basis import basis_changed

        from .cache import faces_changed

        register_nav("Search", "search")
        register_nav("Search log", "search-audit", action=Action.MANAGE)
        # A file's faces stored, removed, or the file going away, change what a
        # search can find (its other saves, upload and status, do not: each
        # bump costs the shared cache a write); a refitted basis changes every
        # stored embedding.
        faces_stored.connect(faces_changed, dispatch_uid="search.faces_stored")
        faces_removing.connect(faces_changed, dispatch_uid="search.faces_removing")
        post_delete.connect(faces_changed, sender=MediaFile, dispatch_uid="search.media_deleted")
        basis_changed.connect(faces_changed, dispatch_uid="search.basis_changed")
        names_changed.connect(faces_changed, dispatch_uid="search.names_changed")
