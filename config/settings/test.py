"""The test suite: the embedded database (or DATABASE_URL), fast hashing, no DEBUG."""

from .base import *  # noqa: F403
from .base import CHANNEL_LAYERS, DATABASES, STATIC_ROOT, VAR_DIR
from .env import env_bool

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-used-anywhere-else"  # noqa: S105
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
DATABASES["default"]["TEST"] = {"NAME": "test_facet"}
# Tests publish and read events immediately; nothing waits for a connection to expire.
DATABASES["default"]["CONN_MAX_AGE"] = 0

if env_bool("FACET_TEST_SUBPROCESS", False):
    # A server or worker a test started: it talks to the database the test run created.
    for _alias in ("default", "channels_postgres"):
        DATABASES[_alias]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

if "CONFIG" in CHANNEL_LAYERS["default"] and "NAME" in CHANNEL_LAYERS["default"]["CONFIG"]:
    # The Postgres channel layer keeps its tables in the test database too.
    CHANNEL_LAYERS["default"]["CONFIG"]["NAME"] = DATABASES["default"]["TEST"]["NAME"]

# Tenant media of the test run, wiped when the test database is created.
MEDIA_ROOT = str(VAR_DIR / "test-media")

WHITENOISE_USE_FINDERS = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns when it is missing
# Workers the tests start note their tasks apart from a `make run` on the same checkout.
Q_INFLIGHT_DIR = str(VAR_DIR / "test-run" / "queue")
