"""Error reports to Sentry: tagged with tenant, request and task, and scrubbed.

Photos of faces and their embeddings are biometric data; passwords and tokens
are secrets. None of them may leave in an event: request bodies and local
variables are never attached, keys that name a secret are blanked at any
depth (sentry_sdk's EventScrubber, with Facet's keys added), and ``scrub``
drops every bytes value and every long list of numbers (an embedding) that
is left anywhere in the event before it is sent.
"""

from __future__ import annotations

import re
from typing import Any

import sentry_sdk
from sentry_sdk.scrubber import DEFAULT_DENYLIST, DEFAULT_PII_DENYLIST, EventScrubber

from .log import context

# Keys whose values never leave, at any depth of an event.
DENYLIST = [
    *DEFAULT_DENYLIST,
    *DEFAULT_PII_DENYLIST,
    "embedding",
    "embeddings",
    "vector",
    "vectors",
    "image",
    "photo",
    "file",
    "crop",
    "crop_jpeg",
    "thumbnail_jpeg",
    "digest",
    "token_key",
    "knox",
    "email",
    "username",
]
# A list of this many numbers or more is taken for an embedding (or pixels); sentry_sdk
# trims every list to 10 items before before_send, so the bar is below that.
NUMBERS_MAX = 8
FILTERED = "[Filtered]"


def _is_numbers(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) >= NUMBERS_MAX
        and all(isinstance(item, int | float) for item in value[:NUMBERS_MAX])
    )


# Photos as text: raw bytes decoded, base64 (JPEG, PNG, WebP) or data: URLs, or any long
# base64 run (a crop or an embedding packed as bytes).
_IMAGE_PREFIXES = ("\x89PNG", "\xff\xd8\xff", "/9j/", "iVBORw0KGgo", "UklGR", "data:image/")
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{256,}")


def _is_encoded_image(text: str) -> bool:
    return text.startswith(_IMAGE_PREFIXES) or bool(_BASE64_RUN.search(text))


def _scrub(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return FILTERED
    if isinstance(value, str) and _is_encoded_image(value):
        return FILTERED
    if _is_numbers(value):
        return FILTERED
    if isinstance(value, dict):
        return {key: _scrub(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    return value


def scrub(event: dict, hint: dict | None = None) -> dict:
    """before_send: tags from the log context, then no bodies, bytes or embeddings."""
    values = context()
    tags = event.setdefault("tags", {})
    request = values.get("request")
    tenant = values.get("schema_name") or getattr(
        getattr(request, "tenant", None), "schema_name", None
    )
    for key, value in (
        ("tenant", tenant),
        ("request_id", values.get("request_id")),
        ("task", values.get("task_name")),
        ("task_id", values.get("task_id")),
    ):
        if value and key not in tags:
            tags[key] = value
    request_data = event.get("request")
    if isinstance(request_data, dict):
        # No body, no cookies, no query string (an ASGI event carries it raw, where
        # the key scrubber cannot see a ?password= or ?token=).
        for key in ("data", "cookies", "query_string"):
            request_data.pop(key, None)
        if isinstance(request_data.get("url"), str):
            request_data["url"] = request_data["url"].split("?", 1)[0]
        headers = request_data.get("headers")
        if isinstance(headers, dict):
            request_data["headers"] = {
                name: value
                for name, value in headers.items()
                if name.lower() not in {"authorization", "cookie", "x-api-key", "x-csrftoken"}
            }
    return _scrub(event)


def sentry_init(*, dsn: str, transport=None, **options: Any) -> None:
    """sentry_sdk.init with Facet's privacy settings (``transport`` for tests)."""
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        transport=transport,
        integrations=[DjangoIntegration()],
        # Photos of faces are biometric data: never attach request bodies or users' PII.
        send_default_pii=False,
        max_request_body_size="never",
        include_local_variables=False,
        event_scrubber=EventScrubber(denylist=DENYLIST, recursive=True),
        before_send=scrub,
        **options,
    )
