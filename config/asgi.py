"""ASGI entry point: HTTP through Django, WebSockets through tenant-aware Channels routing."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from sentry_sdk.integrations.asgi import SentryAsgiMiddleware  # noqa: E402

from attendance.routing import websocket_urlpatterns as attendance_sockets  # noqa: E402
from tenants.routing import websocket_urlpatterns as tenant_sockets  # noqa: E402
from tenants.websocket import TenantWebsocketMiddleware  # noqa: E402

# Every socket of a tenant host; tests/test_tenant_isolation.py checks each has a case.
websocket_urlpatterns = tenant_sockets + attendance_sockets

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Sentry's Django integration does not see Channels' WebSockets.
        "websocket": SentryAsgiMiddleware(
            TenantWebsocketMiddleware(URLRouter(websocket_urlpatterns))
        ),
    }
)
