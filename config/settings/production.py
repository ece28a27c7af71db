"""Production: every secret comes from the environment, and a missing one stops start-up."""

import os

from .base import *  # noqa: F403
from .env import env_bool, env_int, env_list, env_str
from .observability import logging_config

DEBUG = False
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if "DJANGO_ALLOWED_HOSTS" not in os.environ:
    # ALLOWED_HOSTS (base) is the public host and *.<suffix>: the suffix has no
    # sensible default in a deployment, so its absence stops start-up.
    env_str("FACET_TENANT_DOMAIN_SUFFIX")
# Origins allowed to POST forms besides the request's own host, for a portal
# behind a proxy that rewrites Host: "https://*.facet.example.com".
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# Probes reach /health over plain HTTP inside the cluster.
SECURE_REDIRECT_EXEMPT = [r"^health"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
# Every tenant host is a subdomain of the suffix, all served over TLS by Facet.
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)

# One JSON object a line for the log collector (FACET_LOG_FORMAT=console to read them by eye).
LOG_FORMAT = env_str("FACET_LOG_FORMAT", "json")
LOGGING = logging_config(LOG_FORMAT)
