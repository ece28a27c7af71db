from django.apps import AppConfig
from django.db.models.signals import post_migrate


class RecognitionConfig(AppConfig):
    name = "recognition"
    verbose_name = "Recognition"

    def ready(self) -> None:
        from tenants.access import Action
        from tenants.backup import register_part
        from tenants.portal import register_nav

        from . import backup

        register_part(backup.PART)

        register_nav("Model", "recognition-model", action=Action.MANAGE)

        from tenants.health import register_model_checks

        from .health import model_files_check, models_report

        register_model_checks(files=model_files_check, report=models_report)
        post_migrate.connect(
            register_builtin_model, sender=self, dispatch_uid="recognition.builtin"
        )


def register_builtin_model(sender, **kwargs) -> None:
    """The dlib model is always registered: tenants need a model from their first upload."""
    from django.db import connection
    from django_tenants.utils import get_public_schema_name

    if connection.schema_name != get_public_schema_name():
        return
    from .services import builtin_model_ensure

    builtin_model_ensure()
