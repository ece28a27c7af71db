"""/ws/kiosk/: a kiosk sends camera frames and gets each one's answer.

The tenant comes from the Host (``tenants.websocket``, which also refuses a
foreign Origin); the kiosk authenticates with its key inside that tenant's
schema, so another tenant's key finds nothing. A browser cannot set headers
on a WebSocket: it sends ``{"kind": "auth", "key": ...}`` first (a key in the
URL would end up in access logs); other clients may send ``Authorization:
Kiosk <key>`` instead. Then each binary message is one JPEG frame, answered
with ``{"kind": "frame", "marks": [...], "unknown": n, ...}`` as the frame
API answers it, or ``{"kind": "error", "code", "detail"}``.

A socket lives as long as its key: revoking or rotating the key closes it at
once (a group per key), and the key is checked again every
FACET_WS_RECHECK_SECONDS.
"""

from __future__ import annotations

import asyncio
import functools
import io
import os
from concurrent.futures import ThreadPoolExecutor

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django_tenants.utils import tenant_context

from recognition.conf import recognition_setting
from tenants.consumers import UNAUTHENTICATED
from tenants.errors import ServiceError
from tenants.events import credential_group

from .conf import attendance_setting
from .keys import AUTH_PREFIX
from .selectors import kiosk_for_key, kiosk_live
from .throttles import count_frame


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return ""


@functools.cache
def _frame_threads() -> ThreadPoolExecutor:
    """Frames are identified on threads of their own, one per core: by default
    Channels runs every socket's database work on one shared thread, where
    four kiosks' frames would wait for each other."""
    return ThreadPoolExecutor(
        max_workers=attendance_setting("FRAME_THREADS") or os.cpu_count() or 1,
        thread_name_prefix="kiosk-frame",
    )


class KioskConsumer(AsyncJsonWebsocketConsumer):
    kiosk = None
    group = None

    async def connect(self):
        header = _header(self.scope, b"authorization")
        prefix, _, key = header.partition(" ")
        if prefix == AUTH_PREFIX and key:
            # A client that sends the key up front is refused before the handshake.
            kiosk, status = await self._kiosk_for(key)
            if kiosk is None:
                await self.close(code=UNAUTHENTICATED)
                return
            await self.accept()
            await self._authenticated(kiosk, status)
        else:
            await self.accept()
            self.auth_timer = asyncio.ensure_future(self._close_unless_authenticated())

    async def _close_unless_authenticated(self) -> None:
        await asyncio.sleep(attendance_setting("SOCKET_AUTH_TIMEOUT_S"))
        if self.kiosk is None:
            await self.close(code=UNAUTHENTICATED)

    async def _authenticate(self, key: str) -> None:
        kiosk, status = await self._kiosk_for(key)
        if kiosk is None:
            await self.send_json(
                {
                    "kind": "error",
                    "code": "invalid-key",
                    "detail": "This kiosk key is not valid here: it was revoked, rotated, or "
                    "belongs to another organisation.",
                }
            )
            await self.close(code=UNAUTHENTICATED)
            return
        await self._authenticated(kiosk, status)

    async def _authenticated(self, kiosk, status) -> None:
        self.kiosk = kiosk
        self.group = credential_group(self.scope["tenant"].schema_name, "kiosk", kiosk.key_digest)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.recheck = asyncio.ensure_future(self._recheck_key())
        await self.send_json({"kind": "ready", "kiosk": status})

    @database_sync_to_async
    def _kiosk_for(self, key: str):
        from .api import KioskStatusSerializer, kiosk_status

        with tenant_context(self.scope["tenant"]):
            kiosk = kiosk_for_key(key)
            if kiosk is None:
                return None, None
            return kiosk, KioskStatusSerializer(kiosk_status(kiosk)).data

    async def disconnect(self, code):
        for task in (getattr(self, "recheck", None), getattr(self, "auth_timer", None)):
            if task is not None:
                task.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _recheck_key(self) -> None:
        while True:
            await asyncio.sleep(settings.FACET_WS_RECHECK_SECONDS)
            if not await self._still_valid():
                await self.close(code=UNAUTHENTICATED)
                return

    @database_sync_to_async
    def _still_valid(self) -> bool:
        with tenant_context(self.scope["tenant"]):
            return kiosk_live(self.kiosk.pk, self.kiosk.key_digest) is not None

    async def credential_revoked(self, message):
        await self.close(code=UNAUTHENTICATED)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if bytes_data is not None:
            await self._frame(bytes_data)
        else:
            await super().receive(text_data=text_data, **kwargs)

    async def receive_json(self, content, **kwargs):
        kind = content.get("kind") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"kind": "pong"})
        elif kind == "auth" and self.kiosk is None:
            await self._authenticate(str(content.get("key", "")))

    async def _frame(self, data: bytes) -> None:
        if self.kiosk is None:
            await self._error("not-authenticated", "Send the kiosk key first.")
            return
        if len(data) > recognition_setting("MAX_QUERY_BYTES"):
            await self._error("too-large", "The frame is too large.")
            return
        try:
            answer = await self._process(data)
        except ServiceError as exc:
            await self._error(exc.code, exc.detail)
            return
        await self.send_json({"kind": "frame", **answer})

    async def _error(self, code: str, detail: str) -> None:
        await self.send_json({"kind": "error", "code": code, "detail": detail})

    async def _process(self, data: bytes) -> dict:
        identify = database_sync_to_async(
            self._process_frame, thread_sensitive=False, executor=_frame_threads()
        )
        return await identify(data)

    def _process_frame(self, data: bytes) -> dict:
        from .api import describe_frame
        from .services import frame_process

        with tenant_context(self.scope["tenant"]):
            # Read again for each frame (with its count against the allowance):
            # the key may have been revoked since the socket opened, the
            # kiosk's groups or cooldown changed.
            allowance = count_frame(self.kiosk.pk, self.kiosk.key_digest)
            if allowance.kiosk is None:
                raise ServiceError("This kiosk key was revoked.", "invalid-key", http_status=401)
            if not allowance.allowed:
                raise ServiceError(
                    f"Too many frames: try again in {int(allowance.retry_after_s) + 1} s.",
                    "throttled",
                    http_status=429,
                )
            frame = io.BytesIO(data)
            frame.name = "frame.jpg"
            return describe_frame(frame_process(kiosk=allowance.kiosk, frame=frame))
