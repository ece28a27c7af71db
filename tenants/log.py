import logging


class TenantContextFilter(logging.Filter):
    """Adds ``schema_name`` to every log record.

    Unlike django-tenants' filter it never opens a connection: records written
    before Django is set up or during interpreter exit get ``-``.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.schema_name = _current_schema()
        return True


def _current_schema() -> str:
    from django.apps import apps

    if not apps.ready:
        return "-"
    from django.db import connections

    try:
        connection = connections["default"]
    except Exception:
        return "-"
    return getattr(connection, "schema_name", None) or "-"
