import asyncio
from collections import deque

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django_tenants.utils import tenant_context

from .events import credential_group, tenant_events_group
from .websocket import authenticate_socket

# Close code for "sign in again": the page's socket module stops reconnecting.
UNAUTHENTICATED = 4401


class TenantEventsConsumer(AsyncJsonWebsocketConsumer):
    """Streams the tenant's events (job progress and the like) to its signed-in users.

    A socket lives only as long as the credential it was opened with: it is
    closed at once when that session or token is logged out (a group per
    credential), and the credential is checked again every
    FACET_WS_RECHECK_SECONDS, so expiry, a changed password or a deactivated
    member end it too.
    """

    groups_joined: tuple[str, ...] = ()
    # channels-postgres may deliver a message twice when it arrives while the
    # listener starts; remember recent ids so each event reaches the page once.
    recent_ids_kept = 256

    async def connect(self):
        self.recent_ids: deque[str] = deque(maxlen=self.recent_ids_kept)
        user = self.scope.get("user")
        credential = self.scope.get("credential")
        if user is None or not user.is_authenticated or credential is None:
            await self.close(code=UNAUTHENTICATED)
            return
        schema = self.scope["tenant"].schema_name
        self.groups_joined = (tenant_events_group(schema), credential_group(schema, *credential))
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()
        self.recheck = asyncio.ensure_future(self._recheck_credential())

    async def disconnect(self, code):
        recheck = getattr(self, "recheck", None)
        if recheck is not None:
            recheck.cancel()
        for group in self.groups_joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _recheck_credential(self) -> None:
        while True:
            await asyncio.sleep(settings.FACET_WS_RECHECK_SECONDS)
            if not await self._still_signed_in():
                await self.close(code=UNAUTHENTICATED)
                return

    @database_sync_to_async
    def _still_signed_in(self) -> bool:
        with tenant_context(self.scope["tenant"]):
            user, credential = authenticate_socket(self.scope)
        return bool(user.is_authenticated and credential == self.scope["credential"])

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

    async def credential_revoked(self, message):
        await self.close(code=UNAUTHENTICATED)
