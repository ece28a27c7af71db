"""Frames per kiosk (FACET_THROTTLES["kiosk"], read per request like tenants.throttles).

Counted per kiosk, not per address: kiosks behind one NAT keep their own
allowance, and one kiosk sending 100 frames a second is refused (429 with
Retry-After) without starving the others.

The count lives on the kiosk's row, in fixed windows of the rate's period:
one UPDATE per frame counts it, records when the kiosk was last seen and,
for a socket, checks that its key still works. (DRF's cache-backed history
took six statements on the database cache, the default without Redis.)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from .models import Kiosk

SCOPE = "kiosk"


def kiosk_rate() -> str | None:
    return settings.FACET_THROTTLES.get(SCOPE)


@dataclass(frozen=True)
class FrameAllowance:
    kiosk: Kiosk | None  # None: the key was revoked or rotated
    allowed: bool = True
    retry_after_s: float = 0.0


_TABLE = Kiosk._meta.db_table
_COUNT_FRAME = (
    f"UPDATE {_TABLE} SET last_seen_at = %(now)s, "  # noqa: S608 - fixed names only
    "frames_in_window = CASE WHEN frames_window_started_at > %(window_from)s "
    "  THEN frames_in_window + 1 ELSE 1 END, "
    "frames_window_started_at = CASE WHEN frames_window_started_at > %(window_from)s "
    "  THEN frames_window_started_at ELSE %(now)s END "
    "WHERE id = %(id)s AND key_digest = %(digest)s AND revoked_at IS NULL "
    f"RETURNING {_TABLE}.*"
)


def count_frame(kiosk_id: int, digest: str) -> FrameAllowance:
    """Count one frame of the kiosk (its key's digest must still be the live
    one) against its allowance. Run outside the frame's transaction: a frame
    that fails later was still sent."""
    now = timezone.now()
    rate = KioskRateThrottle()  # DRF's reading of "4/s"
    limit, period = rate.num_requests, rate.duration or 1
    window_from = now - dt.timedelta(seconds=period)
    rows = list(
        Kiosk.objects.raw(
            _COUNT_FRAME, {"now": now, "window_from": window_from, "id": kiosk_id, "digest": digest}
        )
    )
    if not rows:
        return FrameAllowance(kiosk=None, allowed=False)
    kiosk = rows[0]
    if limit is None or kiosk.frames_in_window <= limit:
        return FrameAllowance(kiosk=kiosk)
    ends = kiosk.frames_window_started_at + dt.timedelta(seconds=period)
    return FrameAllowance(
        kiosk=kiosk, allowed=False, retry_after_s=max((ends - now).total_seconds(), 0.0)
    )


class KioskRateThrottle(SimpleRateThrottle):
    """The frame API's use of ``count_frame`` (the socket calls it directly);
    only DRF's rate parsing is kept from SimpleRateThrottle, not its cache."""

    scope = SCOPE
    allowance = FrameAllowance(kiosk=None)

    def get_rate(self):
        return kiosk_rate()

    def allow_request(self, request, view):
        kiosk = getattr(request.auth, "kiosk", None)
        if kiosk is None:
            return True
        self.allowance = count_frame(kiosk.pk, kiosk.key_digest)
        # No row: revoked since authentication a moment ago; the frame was
        # already let in as that kiosk's, and the next one gets the 401.
        return self.allowance.allowed or self.allowance.kiosk is None

    def wait(self):
        return self.allowance.retry_after_s
