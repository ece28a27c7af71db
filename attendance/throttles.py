"""Frames per kiosk (FACET_THROTTLES["kiosk"], read per request like tenants.throttles).

Counted per kiosk, not per address: kiosks behind one NAT keep their own
allowance, and one kiosk sending 100 frames a second is refused (429 with
Retry-After) without starving the others. Keys carry the tenant's schema
(the default cache's key function).
"""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

SCOPE = "kiosk"


def kiosk_rate() -> str | None:
    return settings.FACET_THROTTLES.get(SCOPE)


class KioskRateThrottle(SimpleRateThrottle):
    scope = SCOPE

    def get_rate(self):
        return kiosk_rate()

    def get_cache_key(self, request, view):
        kiosk = getattr(request.auth, "kiosk", None)
        if kiosk is None:
            return None
        return self.cache_format % {"scope": self.scope, "ident": kiosk.pk}
