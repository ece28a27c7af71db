"""Liveness and readiness, answered on every host (probes use bare IPs)."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor

_migrations_applied = False


def database_reachable() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def migrations_applied() -> bool:
    """True once the public schema has no unapplied migration (then cached: they don't un-apply)."""
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrations_applied = not plan
    return _migrations_applied


def queue_cluster_alive() -> bool:
    """A django-q2 cluster has written its heartbeat in the last few seconds."""
    from django_q.status import Stat

    return bool(Stat.get_all())


def readiness() -> dict[str, bool]:
    checks = {"database": database_reachable()}
    checks["migrations"] = checks["database"] and migrations_applied()
    checks["queue"] = checks["database"] and queue_cluster_alive()
    return checks
