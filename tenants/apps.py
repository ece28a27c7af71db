from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "Tenants"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Signal receivers, system checks and the tenant tasks of this app.
        from . import checks, maintenance, queue_leases, security  # noqa: F401
        from .roles import sync_roles_after_migrate
        from .schedules import write_schedules_after_migrate

        # Tenant schemas gain permissions as feature apps add models: keep roles current.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="tenants.sync_roles")
        post_migrate.connect(write_schedules_after_migrate, dispatch_uid="tenants.schedules")
