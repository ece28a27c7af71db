from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .events import tenant_events_group


class TenantEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams the tenant's events (job progress and the like) to its signed-in users."""

    group_name: str | None = None

    async def connect(self):
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
        await self.send_json(message["event"])
