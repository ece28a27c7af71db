"""OpenAPI: the one error shape, documented on every operation of the API."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "A stable machine code, e.g. not-found"},
        "detail": {"type": "string", "description": "A sentence for a person"},
        "fields": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Validation errors by field",
        },
        "retry_after": {"type": "integer", "description": "Seconds to wait (429)"},
    },
    "required": ["code", "detail"],
}

_ERRORS = {
    "400": "Invalid request or refused input",
    "401": "No valid credentials",
    "403": "Not allowed for this role, or not a member",
    "404": "No such object in this organisation",
    "429": "Too many requests: see Retry-After",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular post-processing hook: an Error component and the common
    error responses on every /api/v1/ operation that does not declare its own."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        if not path.startswith("/api/v1/"):
            continue
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                responses.setdefault(status, {"description": description, "content": reference})
    return result
