"""Background work (django-q2) and the caches it and the portal share."""

import os

from django.core.exceptions import ImproperlyConfigured

from .env import env_int, env_str
from .paths import VAR_DIR

REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
    }
else:
    # Shared by web and worker processes without a second server.
    _shared_cache = {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "facet_cache",
    }

CACHES = {
    # Application cache: keys carry the schema name, so tenants never share entries.
    "default": {**_shared_cache, "KEY_FUNCTION": "django_tenants.cache.make_key"},
    # django-q2's cluster heartbeats are platform-wide: no tenant prefix.
    "queue": {**_shared_cache, "KEY_PREFIX": "q"},
}

# The ORM broker re-delivers a task whose worker died once `retry` seconds pass
# (at-least-once); the Redis broker has no receipts and would lose it.
Q_CLUSTER = {
    "name": env_str("Q_CLUSTER_NAME", "facet"),
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 600),
    # The lease: a task not acknowledged after this long goes to another worker.
    # Above every tenant task's budget (system check tenants.E001).
    "retry": env_int("Q_RETRY", 1500),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "ack_failures": True,
    # Successful results are all saved; the scheduled "Trim finished task
    # results" keeps the newest FACET_TASK_RESULTS_KEPT. django-q2's own pruning
    # (save_limit > 0) read every kept result, locked, before each save: up to
    # 1,000 rows with their pickled results, twice per uploaded file.
    "save_limit": 0,
    "catch_up": False,
    "poll": 0.5,
    "cache": "queue",
    "label": "Task queue",
}

if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured(
        f"Q_RETRY ({Q_CLUSTER['retry']}s) must exceed Q_TIMEOUT ({Q_CLUSTER['timeout']}s), "
        "or a task still running would be delivered to a second worker."
    )

FACET_TASK_RESULTS_KEPT = env_int("FACET_TASK_RESULTS_KEPT", 1000)

# Each worker notes the task it runs here, so that a worker that dies has its
# task handed back at once (tenants.queue_leases). Local to the host: the
# sentinel and its workers always share one.
Q_INFLIGHT_DIR = env_str("Q_INFLIGHT_DIR", str(VAR_DIR / "run" / "queue"))

# Every periodic job of the platform, in one place. `migrate_schemas` (the
# public schema's migration) writes them into django-q2's schedule table, so
# every deployment has them (tenants.schedules); one that is no longer listed
# here is removed. Each function runs on the public side and queues one
# tenant task per tenant.
FACET_SCHEDULES = {
    "Purge expired API tokens": {
        "func": "tenants.maintenance.purge_expired_tokens_everywhere",
        "minutes": 60,
    },
    "Re-queue stuck media": {
        "func": "media_ingest.maintenance.requeue_stuck_media_everywhere",
        "minutes": 5,
    },
    "Fit embedding storage bases": {
        "func": "vectors.tasks.fit_bases_everywhere",
        "minutes": 15,
    },
    "Trim finished task results": {
        "func": "tenants.maintenance.trim_task_results",
        "minutes": 10,
    },
    "Place faces left unplaced": {
        "func": "people.maintenance.queue_unplaced_media_everywhere",
        "minutes": 10,
    },
    "Purge unrecognised kiosk faces": {
        "func": "attendance.tasks.purge_unknown_faces_everywhere",
        "minutes": 60,
    },
}
