"""Live events for a tenant's users, delivered over /ws/events/.

Group names carry the schema name, so one tenant's events can never be
addressed to another's sockets.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

EVENT_MESSAGE_TYPE = "tenant.event"
REVOKED_MESSAGE_TYPE = "credential.revoked"


def tenant_events_group(schema_name: str) -> str:
    return f"tenant.{schema_name}.events"


def credential_group(schema_name: str, kind: str, key: str) -> str:
    """The sockets opened with one session or token (the key is hashed: group
    names are stored by the channel layer, a session key is a secret)."""
    digest = hashlib.sha256(f"{kind}:{key}".encode()).hexdigest()[:32]
    return f"tenant.{schema_name}.credential.{digest}"


def close_credential_sockets(*, schema_name: str, kind: str, key: str) -> None:
    """Close, now, every socket opened with this session or token (it was revoked)."""
    layer = get_channel_layer()
    if layer is None:
        return
    async_to_sync(layer.group_send)(
        credential_group(schema_name, kind, key), {"type": REVOKED_MESSAGE_TYPE}
    )


def send_event(*, schema_name: str, kind: str, data: dict[str, Any]) -> None:
    """Send now. Prefer ``publish_event`` inside transactions."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("No channel layer is configured (CHANNEL_LAYERS).")
    # The id lets consumers drop the duplicates an at-least-once layer may deliver.
    event = {"kind": kind, **data, "id": uuid.uuid4().hex}
    message = {"type": EVENT_MESSAGE_TYPE, "event": event}
    async_to_sync(layer.group_send)(tenant_events_group(schema_name), message)


def publish_event(*, schema_name: str, kind: str, data: dict[str, Any]) -> None:
    """Send the event once the current transaction commits (at once outside one)."""
    # robust: a lost progress event must not fail the work that produced it.
    transaction.on_commit(
        lambda: send_event(schema_name=schema_name, kind=kind, data=data), robust=True
    )
