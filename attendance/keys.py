"""Kiosk keys: random, shown once, stored as a SHA-512 digest.

A key is ``<prefix>.<secret>``; the prefix is kept in clear to tell a
tenant's kiosks' keys apart in lists, the digest of the whole key finds the
kiosk (one indexed lookup, no timing oracle on the secret: only digests are
compared, by the database).
"""

from __future__ import annotations

import hashlib
import secrets

from tenants.access import Principal

# What a kiosk key may do, nothing else (tenants.access: a principal with scopes).
SCOPE_POST_FRAMES = "attendance.post-frames"
SCOPE_READ_STATUS = "attendance.read-own-status"
KIOSK_SCOPES = frozenset({SCOPE_POST_FRAMES, SCOPE_READ_STATUS})
AUTH_PREFIX = "Kiosk"


def new_key() -> str:
    return f"{secrets.token_hex(4)}.{secrets.token_urlsafe(32)}"


def key_digest(key: str) -> str:
    return hashlib.sha512(key.encode()).hexdigest()


def key_prefix(key: str) -> str:
    return key.split(".", 1)[0][:8]


def kiosk_principal(kiosk) -> Principal:
    return Principal(scopes=KIOSK_SCOPES, label=f"kiosk {kiosk.pk}: {kiosk.name}")
