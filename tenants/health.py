"""Liveness and readiness, answered on every host (probes use bare IPs).

Readiness says whether this web process should be sent requests: its
database answers, its migrations are applied, and its connection pool is
not saturated. Whether task workers are alive is reported beside it but does
not gate it: a worker outage must not take the portal and the API down.
"""

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


def pool_stats() -> dict | None:
    """This process's connection pool (the web server's), or None without one."""
    pool = getattr(connection, "pool", None)
    if pool is None:
        return None
    stats = pool.get_stats()
    return {
        "size": stats.get("pool_size", 0),
        "max": stats.get("pool_max", 0),
        "available": stats.get("pool_available", 0),
        "waiting": stats.get("requests_waiting", 0),
    }


def pool_saturated(stats: dict | None) -> bool:
    """As many requests queue for a connection as the pool holds: stop taking more."""
    return bool(stats) and stats["available"] == 0 and stats["waiting"] >= stats["max"]


def readiness() -> dict:
    pool = pool_stats()
    checks: dict[str, bool] = {}
    if pool is not None:
        checks["database_pool"] = not pool_saturated(pool)
    # A saturated pool would make the probe itself wait for a connection.
    checks["database"] = checks.get("database_pool", True) and database_reachable()
    checks["migrations"] = checks["database"] and migrations_applied()
    report = {
        "status": "ready" if all(checks.values()) else "not ready",
        "checks": checks,
        # Reported, not gating: the portal keeps serving while workers restart.
        "workers_alive": checks["database"] and queue_cluster_alive(),
    }
    if pool is not None:
        report["pool"] = pool
    return report
