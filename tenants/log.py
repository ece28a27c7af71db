"""What every log record carries, and the two ways it is written.

A record names the request id, the tenant schema, the user and, in workers,
the task id and name it was written under. They live in a context variable
(``bound(...)``): the request middleware binds the request id and the request
(its tenant and user are read from it when a record is written, without a
query), the task runner binds the task and its schema. Outside both, the
schema is the database connection's.

``FACET_LOG_FORMAT=json`` writes one JSON object a line (python-json-logger);
``console`` writes readable lines with the same fields.
"""

from __future__ import annotations

import contextlib
import logging
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

_context: ContextVar[dict[str, Any]] = ContextVar("facet_log_context", default={})  # noqa: B039

# The fields TenantContextFilter sets on every record ("-" when unknown).
CONTEXT_FIELDS = ("request_id", "schema_name", "user_id", "task_id", "task_name")


@contextlib.contextmanager
def bound(**values: Any):
    """Records written inside carry ``values`` (request_id, schema_name, task_id, ...)."""
    token = _context.set({**_context.get(), **values})
    try:
        yield
    finally:
        _context.reset(token)


def context() -> dict[str, Any]:
    return _context.get()


class TenantContextFilter(logging.Filter):
    """Adds the context fields to every record; never opens a connection or runs a
    query: records written before Django is set up or during exit get ``-``.
    A field the call passed in ``extra`` is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        values = _context.get()
        # django.request's lines are written outside the middleware, with the request.
        request = values.get("request") or getattr(record, "request", None)
        found = {
            "request_id": values.get("request_id") or getattr(request, "request_id", None),
            "schema_name": values.get("schema_name") or _request_schema(request),
            "user_id": values.get("user_id") or _request_user_id(request),
            "task_id": values.get("task_id"),
            "task_name": values.get("task_name"),
        }
        if not found["schema_name"]:
            found["schema_name"] = _current_schema()
        for name, value in found.items():
            if not hasattr(record, name):
                setattr(record, name, value if value is not None else "-")
        return True


def _request_schema(request) -> str | None:
    tenant = getattr(request, "tenant", None) if request is not None else None
    return getattr(tenant, "schema_name", None)


def _request_user_id(request):
    """The signed-in user's id, only if the request already loaded its user
    (a lazy ``request.user`` not yet read would cost a session query)."""
    if request is None:
        return None
    user = request.__dict__.get("user")
    if user is None:
        return None
    wrapped = getattr(user, "_wrapped", user)
    from django.utils.functional import empty

    if wrapped is empty or not getattr(wrapped, "is_authenticated", False):
        return None
    return wrapped.pk


def _current_schema() -> str:
    from django.apps import apps

    if not apps.ready:
        return "-"
    from django.db import connections

    try:
        connection = connections["default"]
    except Exception:
        return "-"
    return getattr(connection, "schema_name", None) or "-"


# Attributes every LogRecord has: not "extra" fields.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
# Passed by Django with its request lines: the context fields above say what matters of it.
_NOT_WRITTEN = {"request"}
_SKIPPED = _RECORD_ATTRIBUTES | set(CONTEXT_FIELDS) | _NOT_WRITTEN


class ConsoleFormatter(logging.Formatter):
    """``time LEVEL [schema] logger: message (request=… user=… task=…) key=value …``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(schema_name)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{label}={getattr(record, name)}"
            for label, name in (
                ("request", "request_id"),
                ("user", "user_id"),
                ("task", "task_name"),
                ("task_id", "task_id"),
            )
            if getattr(record, name, "-") not in ("-", None)
        ]
        extra = [f"{key}={value}" for key, value in vars(record).items() if key not in _SKIPPED]
        if tags or extra:
            line = f"{line} ({' '.join(tags + extra)})"
        return line


class JsonFormatter(_JsonFormatter):
    """One JSON object a line: time, level, logger, message, the context fields
    and any ``extra`` the call passed; exceptions as a ``exc_info`` string."""

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            timestamp=False,
            reserved_attrs=[*_RECORD_ATTRIBUTES - {"message", "asctime"}, *_NOT_WRITTEN],
        )
