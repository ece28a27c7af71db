from collections import deque

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import tenant_events_group


class TenantEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams the tenant's events (job progress and the like) to its signed-in users."""

    group_name: str | None = None
    # channels-postgres may deliver a message twice when it arrives while the
    # listener starts; remember recent ids so each event reaches the page once.
    recent_ids_kept = 256

    async def connect(self):
        self.recent_ids: deque[str] = deque(maxlen=self.recent_ids_kept)
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        self.group_name = tenant_events_group(self.scope["tenant"].schema_name)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content, **kwargs):
        # The stream is one-way; a ping keeps proxies from closing an idle socket.
        if content.get("kind") == "ping":
            await self.send_json({"kind": "pong"})

    async def tenant_event(self, message):
        event = message["event"]
        event_id = event.get("id")
        if event_id in self.recent_ids:
            return
        self.recent_ids.append(event_id)
        await self.send_json(event)
