from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "search"
    verbose_name = "Search"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from media_ingest.models import MediaFile
        from tenants.portal import register_nav
        from tenants.roles import Role
        from tenants.tasks import schedule_every

        from .cache import faces_changed

        register_nav("Search", "search")
        register_nav("Search log", "search-audit", roles={Role.OWNER, Role.ADMIN})
        # A file finishing, or going away, changes what a search can find.
        post_save.connect(faces_changed, sender=MediaFile, dispatch_uid="search.media_saved")
        post_delete.connect(faces_changed, sender=MediaFile, dispatch_uid="search.media_deleted")
        # Once a tenant has enough faces of a wide model (search.maintenance).
        schedule_every(
            self,
            name="Fit search sketch bases",
            func="search.maintenance.fit_sketch_bases_everywhere",
            minutes=15,
        )
