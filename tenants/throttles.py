"""Request rates per member (per address before sign-in), for the API's costly routes.

Rates live in settings.FACET_THROTTLES by scope and are read on each request
(DRF's own scoped throttle freezes them at import). Counts are kept in the
default cache, whose keys carry the tenant's schema: user 1 of one tenant
never spends user 1 of another's allowance.
"""

from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle


class MemberRateThrottle(ScopedRateThrottle):
    def get_rate(self):
        return settings.FACET_THROTTLES.get(self.scope)
