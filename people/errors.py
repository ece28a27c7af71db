"""Refusals of the people app, in the one error shape (tenants.errors)."""

from tenants.errors import ServiceError


class EnrolmentRefused(ServiceError):
    """A face that cannot be enrolled, and why (422: the request was understood,
    the face is not usable)."""

    http_status = 422


class PeopleError(ServiceError):
    """Any other refusal of a people operation (400 unless said otherwise)."""
