"""`make run` on one machine: embedded database, DEBUG off unless FACET_DEBUG=1.

Small sites run exactly this for real, so it is as safe as production where
that needs no TLS: no debug pages, static files served by WhiteNoise.
"""

import secrets

from .base import *  # noqa: F403
from .base import STATIC_ROOT, VAR_DIR
from .env import env_bool, env_str

DEBUG = env_bool("FACET_DEBUG", False)


def _local_secret_key() -> str:
    """A key generated once per install and kept in var/, never a literal in the code."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("DJANGO_SECRET_KEY", "") or _local_secret_key()

# Serve static files straight from the source folders: no collectstatic step locally.
WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
WHITENOISE_AUTOREFRESH = DEBUG
