from django.urls import path

from .consumers import TenantEventsConsumer

websocket_urlpatterns = [
    path("ws/events/", TenantEventsConsumer.as_asgi(), name="ws-events"),
]
