"""Settings shared by every environment. Concerns live in sibling modules.

Environment modules (local, production, test) import this one and override
what differs; nothing here holds a production secret.
"""

import os
from pathlib import Path

# Concern modules: each owns its settings; re-exported here as Django settings.
from .api import FACET_THROTTLES, REST_FRAMEWORK, REST_KNOX, SPECTACULAR_SETTINGS  # noqa: F401
from .database import (  # noqa: F401
    DATABASE_ROUTERS,
    DATABASES,
    EMBEDDED_PGDATA,
    FACET_PG_BIN_DIR,
    ORIGINAL_BACKEND,
)
from .env import env_int, env_str
from .observability import (  # noqa: F401
    FACET_METRICS_ALLOWED_IPS,
    FACET_METRICS_HOSTS,
    FACET_METRICS_TENANT_LABEL,
    FACET_METRICS_TOKEN,
    LOG_FORMAT,
    LOGGING,
    PROMETHEUS_EXPORT_MIGRATIONS,
    PROMETHEUS_MULTIPROC_DIR,
    SENTRY_DSN,
)
from .paths import BASE_DIR, VAR_DIR
from .queue import (  # noqa: F401
    CACHES,
    FACET_SCHEDULES,
    FACET_TASK_RESULTS_KEPT,
    Q_CLUSTER,
    Q_INFLIGHT_DIR,
    REDIS_URL,
)
from .realtime import CHANNEL_LAYERS, FACET_WS_RECHECK_SECONDS  # noqa: F401
from .security import *  # noqa: F403

# Off everywhere unless an environment module opts in (local.py reads FACET_DEBUG).
DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY", "")  # environment modules decide the fallback

# --- tenancy -----------------------------------------------------------------
SHARED_APPS = [
    "django_tenants",
    "tenants",
    "recognition",
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "django.contrib.staticfiles",
    "django_q",
    "channels",
    "channels_postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_prometheus",
    "axes",
    "csp",
]
TENANT_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.admin",
    "knox",
    # Sign-in attempts are kept per schema, beside the accounts they concern.
    "axes",
    "vectors",
    "media_ingest",
    "people",
    "search",
    "attendance",
]
INSTALLED_APPS = list(SHARED_APPS) + [app for app in TENANT_APPS if app not in SHARED_APPS]

TENANT_MODEL = "tenants.Tenant"
TENANT_DOMAIN_MODEL = "tenants.Domain"
# django-tenants sends `SET search_path` before every statement unless told
# this: a round trip per query, half of a kiosk frame's. It is safe to send it
# once per connection and tenant: set_tenant, close, rollback and savepoint
# rollback (which undo or replace the SET) make it send the next one
# (tests/tenants/test_search_path.py).
TENANT_LIMIT_SET_CALLS = True
PUBLIC_SCHEMA_URLCONF = "config.urls_public"
ROOT_URLCONF = "config.urls_tenants"

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Request id, access log line and duration around everything below (health included).
    "tenants.middleware.RequestContextMiddleware",
    # Probes call /health on bare IPs and unknown hosts: answer before tenant routing.
    "tenants.middleware.HealthCheckMiddleware",
    "django_tenants.middleware.main.TenantMainMiddleware",
    "tenants.middleware.SuspendedTenantMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.middleware.ContentSecurityPolicyMiddleware",
    # Turns a locked-out sign-in into its answer (after the view ran the backends).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.context_processors.portal",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("FACET_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- files -------------------------------------------------------------------
STATIC_URL = "/static/"
# Images collect static files at build time into their own folder
# (FACET_STATIC_ROOT), outside var/, which a deployment mounts as a volume.
STATIC_ROOT = Path(env_str("FACET_STATIC_ROOT", str(VAR_DIR / "static")))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_ROOT = env_str("FACET_MEDIA_ROOT", str(VAR_DIR / "media"))
# Each tenant's files live under MEDIA_ROOT/<schema>/ and are served only
# through tenants.views.protected_media, never by a static file server.
MULTITENANT_RELATIVE_MEDIA_ROOT = "%s"
STORAGES = {
    "default": {"BACKEND": "django_tenants.files.storage.TenantFileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# FACET_STORAGE=s3: tenants' media in one bucket, under <FACET_S3_PREFIX>/<schema>/
# (tenants.storage), read through the same tenant-checked view.
FACET_STORAGE = env_str("FACET_STORAGE", "filesystem")
FACET_S3_PREFIX = env_str("FACET_S3_PREFIX", "media")
if FACET_STORAGE == "s3":
    STORAGES["default"] = {"BACKEND": "tenants.storage.TenantS3Storage"}
    AWS_STORAGE_BUCKET_NAME = env_str("FACET_S3_BUCKET")
    # Empty: AWS itself; else MinIO, Ceph RGW... (credentials: AWS_ACCESS_KEY_ID and
    # AWS_SECRET_ACCESS_KEY, or the instance's role, as boto3 finds them).
    AWS_S3_ENDPOINT_URL = env_str("FACET_S3_ENDPOINT_URL", "") or None
    AWS_S3_REGION_NAME = env_str("FACET_S3_REGION", "") or None
    AWS_S3_ADDRESSING_STYLE = env_str("FACET_S3_ADDRESSING_STYLE", "") or None
elif FACET_STORAGE != "filesystem":
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(f"FACET_STORAGE={FACET_STORAGE!r}: use filesystem or s3.")
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Domain apps' settings, read through recognition.conf / media_ingest.conf (defaults there).
RECOGNITION: dict = {}
INGEST = {
    # Upload limits per kind; the web server refuses a larger body before reading it.
    "MAX_IMAGE_BYTES": env_int("FACET_MAX_PHOTO_MB", 50) * 1024 * 1024,
    "MAX_VIDEO_BYTES": env_int("FACET_MAX_VIDEO_MB", 2048) * 1024 * 1024,
    # Tenants on an ONNX model send work to this django-q2 cluster, served by GPU
    # workers started with `Q_CLUSTER_NAME=<name> manage.py qcluster`.
    "GPU_CLUSTER": env_str("FACET_GPU_CLUSTER", ""),
}
# Read through attendance.conf (defaults there: cooldown 10 min, unknown faces not
# kept, mark crops not kept, unknown faces kept 7 days when kept).
ATTENDANCE = {
    "DEFAULT_COOLDOWN_MINUTES": env_int("FACET_KIOSK_COOLDOWN_MINUTES", 10),
}

# Web server processes `make run` starts on one socket: one per core, up to 4
# (each holds its own engines, ~0.3 GB with both loaded, and database pool).
FACET_WEB_PROCESSES = env_int("FACET_WEB_PROCESSES", min(os.cpu_count() or 1, 4))
# What `make run` supervises beside the web server: argv after `python`.
FACET_PROCESSES = {
    "worker": ["manage.py", "qcluster"],
    "watch": ["manage.py", "watch_folder"],
}

FACET_DEMO_TENANT = env_str("FACET_DEMO_TENANT", "demo")
# Storage for each tenant's originals unless `manage.py tenant quota` says otherwise; 0: none.
FACET_TENANT_STORAGE_QUOTA_MB = env_int("FACET_TENANT_STORAGE_QUOTA_MB", 0)
FACET_HTTP_PORT = env_int("FACET_HTTP_PORT", 8000)
