"""DATABASES: an external PostgreSQL from DATABASE_URL, else the embedded one."""

import os

from config import embedded_postgres

from .env import database_from_url, env_int, env_str
from .paths import VAR_DIR

EMBEDDED_PGDATA = VAR_DIR / "pgdata"
_database_url = os.environ.get("DATABASE_URL")
if _database_url:
    _connection = database_from_url(_database_url)
else:
    _connection = embedded_postgres.attach(
        EMBEDDED_PGDATA, env_str("FACET_EMBEDDED_DATABASE", embedded_postgres.DEFAULT_DATABASE)
    )

DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        **_connection,
        "CONN_MAX_AGE": env_int("FACET_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    },
    # channels-postgres removes group members through the ORM on this alias.
    "channels_postgres": {
        "ENGINE": "django.db.backends.postgresql",
        **_connection,
        "TEST": {"MIRROR": "default"},
    },
}
# django-tenants wraps this backend; django-prometheus's counts queries.
ORIGINAL_BACKEND = "django_prometheus.db.backends.postgresql"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
