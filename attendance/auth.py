"""``Authorization: Kiosk <key>``: a kiosk, as a principal limited to its scopes.

Listed in REST_FRAMEWORK's authentication classes, so every API route sees a
kiosk key for what it is: a principal that may post frames and read its own
status (``keys.KIOSK_SCOPES``) and nothing else. Any other route refuses it
with 403; a revoked, rotated or unknown key (another tenant's included: the
lookup runs in this tenant's schema) is a 401.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from rest_framework import authentication, exceptions

from tenants.access import Principal

from .keys import AUTH_PREFIX, kiosk_principal
from .selectors import kiosk_for_key


@dataclass(frozen=True)
class KioskCredential:
    """``request.auth`` of a kiosk's request (tenants.access reads ``principal``)."""

    kiosk: object
    principal: Principal


class KioskKeyAuthentication(authentication.BaseAuthentication):
    keyword = AUTH_PREFIX

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode("latin-1") != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Send the header as: Kiosk <key>.")
        kiosk = kiosk_for_key(header[1].decode("latin-1"))
        if kiosk is None:
            raise exceptions.AuthenticationFailed(
                "This kiosk key is not valid here: it was revoked, rotated, or belongs "
                "to another organisation."
            )
        return AnonymousUser(), KioskCredential(kiosk, kiosk_principal(kiosk))

    def authenticate_header(self, request):
        return self.keyword
