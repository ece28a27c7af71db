"""Refusals of the attendance app, in the one error shape (tenants.errors)."""

from tenants.errors import ServiceError


class AttendanceError(ServiceError):
    """A refused attendance operation (400 unless said otherwise)."""


class KioskClosed(ServiceError):
    """A frame sent outside the kiosk's opening hours."""

    http_status = 409
