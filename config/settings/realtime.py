"""Channel layer for WebSocket events: Redis when REDIS_URL is set, else Postgres."""

import os

from .database import DATABASES
from .env import env_int

# How often an open socket checks that its session or token is still valid
# (logging out closes its sockets at once; this catches expiry and the rest).
FACET_WS_RECHECK_SECONDS = env_int("FACET_WS_RECHECK_SECONDS", 60)

_redis_url = os.environ.get("REDIS_URL", "")

if _redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [_redis_url]},
        }
    }
else:
    _db = DATABASES["default"]
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "tenants.channel_layer.GroupSendOnceChannelLayer",
            # channels-postgres builds its own connection from a full DB dict;
            # without PASSWORD/TIME_ZONE get_channel_layer() silently returns None.
            "CONFIG": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": _db["NAME"],
                "USER": _db["USER"],
                "PASSWORD": _db["PASSWORD"],
                "HOST": _db["HOST"],
                "PORT": _db["PORT"],
                "TIME_ZONE": None,
                "PSYCOPG_OPTIONS": {"min_size": 1, "max_size": 4},
            },
        }
    }
