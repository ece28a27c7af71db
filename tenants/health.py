"""Liveness and readiness, answered on every host (probes use bare IPs).

Readiness says whether this web process should be sent requests: its
database answers, its migrations are applied, and its connection pool is
not saturated. Whether task workers are alive is reported beside it but does
not gate it: a worker outage must not take the portal and the API down.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

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


# --- detailed health (platform host and bare IPs only) ---------------------------
# Feature apps add what the ground cannot know: recognition registers its model
# files (a quick check for /health/detailed) and its full model report.
_MODEL_CHECKS: dict[str, object] = {}


def register_model_checks(*, files, report) -> None:
    """``files()`` -> {"ok": bool, ...} (cheap); ``report()`` -> list of model dicts."""
    _MODEL_CHECKS["files"] = files
    _MODEL_CHECKS["report"] = report


def _timed(check) -> dict:
    started = time.perf_counter()
    try:
        result = check()
    except Exception as exc:  # a check that raises is a failed check, not a 500
        result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    result.setdefault("latency_ms", round((time.perf_counter() - started) * 1000, 2))
    return result


def _database() -> dict:
    return {"ok": database_reachable()}


def _migrations() -> dict:
    return {"ok": migrations_applied()}


def queue_state() -> dict[str, dict]:
    """Per django-q2 cluster: waiting and leased tasks, the oldest waiting task's age,
    and the live sentinels' heartbeats. Read by detailed health and /metrics."""
    from django.db.models import Count, Min, Q
    from django.utils import timezone
    from django_q.models import OrmQ

    from .metrics import cluster_stats, queue_clusters

    now = timezone.now()
    rows = {
        row["key"]: row
        for row in OrmQ.objects.values("key").annotate(
            waiting=Count("id", filter=Q(lock__lte=now)),
            leased=Count("id", filter=Q(lock__gt=now)),
            oldest=Min("lock", filter=Q(lock__lte=now)),
        )
    }
    state = {}
    for name in dict.fromkeys([*queue_clusters(), *rows]):
        row = rows.get(name, {})
        stats = cluster_stats(name)
        stamps = [s.timestamp.timestamp() for s in stats if getattr(s, "timestamp", None)]
        first = row.get("oldest")
        state[name] = {
            "depth": row.get("waiting", 0),
            "leased": row.get("leased", 0),
            "oldest_age_s": round((now - first).total_seconds(), 1) if first else 0.0,
            "alive": bool(stats),
            "workers": sum(len(getattr(s, "workers", None) or []) for s in stats),
            "last_heartbeat": max(stamps) if stamps else None,
        }
    return state


def _queue() -> dict:
    clusters = queue_state()
    return {"ok": all(c["alive"] for c in clusters.values()), "clusters": clusters}


def _channel_layer() -> dict:
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        return {"ok": False, "error": "no channel layer configured"}

    async def send() -> bool:
        # Sending only. Reading the message back from a thread with no event
        # loop of its own (a test client, a command) left the Postgres layer's
        # process-wide pool with a listening connection on a loop that then
        # ended, and the process's next event waited on it for ever.
        name = await layer.new_channel("health.")
        await asyncio.wait_for(layer.send(name, {"type": "health.ping"}), timeout=3)
        return True

    return {"ok": async_to_sync(send)(), "backend": type(layer).__name__}


def _cache() -> dict:
    from django.core.cache import cache

    key, value = "facet:health:probe", uuid.uuid4().hex
    cache.set(key, value, 30)
    ok = cache.get(key) == value
    cache.delete(key)
    return {"ok": ok}


# Below this share of free space, media storage is reported failing (the alert fires at 90% used).
MEDIA_MIN_FREE_RATIO = 0.05


def _media_storage() -> dict:
    from django.conf import settings

    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=root, prefix=".health-") as probe:
        probe.write(b"ok")
        probe.flush()
    usage = shutil.disk_usage(root)
    free_ratio = usage.free / usage.total if usage.total else 0.0
    return {
        "ok": free_ratio >= MEDIA_MIN_FREE_RATIO,
        "writable": True,
        "free_bytes": usage.free,
        "used_ratio": round(1 - free_ratio, 4),
    }


def _model_files() -> dict:
    files = _MODEL_CHECKS.get("files")
    return files() if files else {"ok": True, "models": []}


def detailed() -> dict:
    """Every dependency of the platform, each with ``ok`` and its latency.

    ``status``: ``ok``, ``degraded`` (something failed but the web tier serves:
    workers down, a full disk, the channel layer), or ``down`` (no database).
    """
    checks = {"database": _timed(_database)}
    if checks["database"]["ok"]:
        checks["migrations"] = _timed(_migrations)
        checks["queue"] = _timed(_queue)
        checks["cache"] = _timed(_cache)
        checks["model_files"] = _timed(_model_files)
    checks["channel_layer"] = _timed(_channel_layer)
    checks["media_storage"] = _timed(_media_storage)
    if not checks["database"]["ok"]:
        status = "down"
    else:
        status = "ok" if all(c["ok"] for c in checks.values()) else "degraded"
    return {"status": status, "checks": checks}


def models_report() -> dict:
    """Each registered model: files present, sha256 verified, loads, provider, tenants."""
    report = _MODEL_CHECKS.get("report")
    models = report() if report else []
    ok = all(m.get("ok") for m in models)
    return {"status": "ok" if ok else "degraded", "models": models}
