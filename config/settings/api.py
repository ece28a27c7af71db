"""The token API: DRF, knox tokens, OpenAPI."""

from datetime import timedelta

from .env import env_int, env_str
from .security import FACET_TRUSTED_PROXIES

# Requests per member (per client address before sign-in) on costly routes;
# a refused request gets 429 with Retry-After (tenants.throttles).
FACET_THROTTLES = {
    "auth": env_str("FACET_AUTH_THROTTLE", "10/min"),
    # A search or an identification by photo decodes and runs the engine in the web process.
    "search": env_str("FACET_SEARCH_THROTTLE", "60/min"),
    "identify": env_str("FACET_IDENTIFY_THROTTLE", "120/min"),
    # Per kiosk: a kiosk sends 1-2 frames a second while a face is in view.
    "kiosk": env_str("FACET_KIOSK_THROTTLE", "4/s"),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "knox.auth.TokenAuthentication",
        # `Authorization: Kiosk <key>`: a principal that may post frames, nothing else.
        "attendance.auth.KioskKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Every error as {"code", "detail", ...} (tenants.api_errors).
    "EXCEPTION_HANDLER": "tenants.api_errors.exception_handler",
    "DEFAULT_THROTTLE_RATES": FACET_THROTTLES,
    # Throttles count per client address: trust X-Forwarded-For only as far as
    # the configured proxies (None would believe whatever a client sends).
    "NUM_PROXIES": FACET_TRUSTED_PROXIES,
}

# Knox stores only a SHA-512 digest of each token; a dump of the table cannot log in.
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env_int("FACET_TOKEN_TTL_HOURS", 24 * 7)),
    "AUTH_HEADER_PREFIX": "Token",
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": 20,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Facet API",
    "DESCRIPTION": (
        "Per-tenant face recognition API. Every path is served on the tenant's own "
        "host name; authenticate with `Authorization: Token <token>` from "
        "`POST /api/v1/auth/token/`. Attendance kiosks send `Authorization: Kiosk "
        "<key>` (shown once when the kiosk is registered) to the frame and status "
        "routes only."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Served from this install's static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tenants.api_schema.add_error_responses",
    ],
    # One name per choice set that several serializers share.
    "ENUM_NAME_OVERRIDES": {
        "MediaKindEnum": "media_ingest.models.MediaFile.Kind",
        "MediaSourceEnum": "media_ingest.models.Source",
        "MediaStatusEnum": "media_ingest.models.MediaFile.Status",
        "FaceLabelStatusEnum": "people.models.FaceLabel.Status",
        "CorrectionKindEnum": "attendance.models.Correction.Kind",
    },
}
