"""Who may reach the platform and how hard it is to guess into it.

Hosts, the client address behind proxies, sign-in lock-out (django-axes), the
Content-Security-Policy and cookie flags. Production tightens transport
security (HSTS, secure cookies) in production.py.
"""

from datetime import timedelta

from csp.constants import NONE, SELF

from .env import env_int, env_list, env_str

FACET_PUBLIC_HOST = env_str("FACET_PUBLIC_HOST", "localhost")
# Tenants live at <slug>.<suffix> (demo.localhost locally, acme.facet.example.com
# in a deployment): the suffix is what ALLOWED_HOSTS admits besides the public host.
FACET_TENANT_DOMAIN_SUFFIX = env_str("FACET_TENANT_DOMAIN_SUFFIX", "localhost").lstrip(".")

# Tenants are resolved from the Host against the Domain table (unknown hosts get
# 404); ALLOWED_HOSTS keeps forged hosts out of absolute URLs before that.
# Probes and scrapers on bare IPs are answered before host validation.
ALLOWED_HOSTS = env_list(
    "DJANGO_ALLOWED_HOSTS", [FACET_PUBLIC_HOST, f".{FACET_TENANT_DOMAIN_SUFFIX}"]
)

# How many reverse proxies (nginx, an ingress) stand in front of the web server
# and append to X-Forwarded-For. 0: the client is the socket's peer, and the
# header, which any client can send, is ignored. Rate limits and lock-outs
# count per client address, so this must match the deployment.
FACET_TRUSTED_PROXIES = env_int("FACET_TRUSTED_PROXIES", 0)

# --- sign-in lock-out (every path that authenticates: portal, both admins, token API)
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("FACET_LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("FACET_LOGIN_COOLOFF_MINUTES", 15))
# Locked when either the account or the address reaches the limit.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "tenants.security.client_ip"
AXES_USERNAME_CALLABLE = "tenants.security.login_username"
AXES_LOCKOUT_CALLABLE = "tenants.security.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # tenants.security logs failures as security events instead

# --- Content-Security-Policy: no inline script anywhere, assets from this host only.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        "media-src": [SELF, "blob:"],
        # WebSockets (live progress) go to the same host.
        "connect-src": [SELF],
        "font-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

SESSION_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "tenants.http_errors.csrf_failure"  # the portal's 403, not Django's page
CSRF_COOKIE_HTTPONLY = False  # the portal's fetch() calls read it (X-CSRFToken)
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
