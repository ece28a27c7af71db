"""REST_FRAMEWORK["EXCEPTION_HANDLER"]: every API error in the one shape.

    {"code": "<machine code>", "detail": "<sentence for a person>", ...}

Validation errors add ``fields`` ({field: [messages]}); a throttled request
adds ``retry_after`` (seconds, also in the Retry-After header). DRF's own
401, 403, 404, 405 and 429 are reshaped here; a ``ServiceError`` raised by
a service is answered with its own code and status. Errors outside DRF views
(an unknown path, a body too large) get the same shape from
``tenants.http_errors``.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ServiceError


def _code(exc: exceptions.APIException) -> str:
    codes = exc.get_codes()
    code = codes if isinstance(codes, str) else exc.default_code
    return str(code).replace("_", "-")


def _fields(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            for key, value in detail.items()
        }
    return {}


def _validation_body(exc: exceptions.ValidationError) -> dict:
    fields = _fields(exc.detail)
    general = fields.pop("non_field_errors", None)
    if general:
        detail = " ".join(general)
    elif isinstance(exc.detail, list) and exc.detail:
        detail = " ".join(str(item) for item in exc.detail)
    elif fields:
        names = ", ".join(sorted(fields))
        first = next(iter(fields.values()))[0]
        detail = f"Check {names}: {first}" if len(fields) == 1 else f"Check these fields: {names}."
    else:
        detail = "The request is not valid."
    return {"code": "invalid", "detail": detail, "fields": fields}


def exception_handler(exc, context):
    if isinstance(exc, ServiceError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or None)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real failure: Django's handler500 answers (tenants.http_errors)
    if isinstance(exc, exceptions.ValidationError):
        response.data = _validation_body(exc)
    else:
        response.data = {"code": _code(exc), "detail": str(exc.detail)}
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            response.data["retry_after"] = int(exc.wait + 0.999)
    return response
