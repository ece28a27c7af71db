from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from . import (  # noqa: F401  (signal receivers)
            queue_leases,
            security,
        )
        from .roles import sync_roles_after_migrate

        # Tenant schemas gain permissions as feature apps add models: keep roles current.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="tenants.sync_roles")
