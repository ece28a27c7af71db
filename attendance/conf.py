"""The ATTENDANCE settings dict, read through one accessor with defaults."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # A kiosk's cooldown when its admin sets none: the same person is marked
    # once in this many minutes per kiosk group, and answered "cooldown" within.
    "DEFAULT_COOLDOWN_MINUTES": 10,
    # A session's lateness rule when none is given: late after N minutes.
    "DEFAULT_LATE_AFTER_MINUTES": 5,
    # Marks count for a session from this many minutes before it starts.
    "EARLY_MINUTES": 30,
    # What a new tenant's attendance settings (AttendanceSettings) start as:
    # unknown faces are counted, and their crops kept for review only when the
    # tenant turns it on; marks keep the face crop only when the tenant says so.
    "KEEP_UNKNOWN_FACES": False,
    "KEEP_MARK_CROPS": False,
    "UNKNOWN_RETENTION_DAYS": 7,
    # The attendance-rate chart of the reports page covers this many weeks.
    "REPORT_WEEKS": 8,
    # A kiosk socket that has not sent its key after this many seconds is closed.
    "SOCKET_AUTH_TIMEOUT_S": 10,
    # Threads of a web process that identify kiosk sockets' frames side by side
    # (the engines release the GIL); None: one per CPU core.
    "FRAME_THREADS": None,
}


def attendance_setting(name: str) -> Any:
    if name not in DEFAULTS:
        raise KeyError(f"unknown ATTENDANCE setting {name!r}")
    return getattr(settings, "ATTENDANCE", {}).get(name, DEFAULTS[name])
