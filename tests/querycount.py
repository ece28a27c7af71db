"""Pin the number of queries a hot endpoint makes, in the spirit of Zulip's
``assert_database_query_count``: a change that adds one (an N+1, a lookup
repeated per request) fails with the statements listed.

django-tenants issues ``SET search_path`` before statements on a tenant
connection; those are bookkeeping and not counted.
"""

from __future__ import annotations

import contextlib

from django.db import connection
from django.test.utils import CaptureQueriesContext


def _counted(queries: list[dict]) -> list[str]:
    return [q["sql"] for q in queries if not q["sql"].startswith("SET search_path")]


@contextlib.contextmanager
def assert_query_count(expected: int):
    with CaptureQueriesContext(connection) as captured:
        yield captured
    statements = _counted(captured.captured_queries)
    if len(statements) != expected:
        listing = "\n".join(f"  {n}. {sql[:200]}" for n, sql in enumerate(statements, 1))
        raise AssertionError(f"{len(statements)} queries, expected {expected}:\n{listing}")


@contextlib.contextmanager
def count_queries():
    """The statements run inside the block (without search-path bookkeeping)."""
    statements: list[str] = []
    with CaptureQueriesContext(connection) as captured:
        yield statements
    statements.extend(_counted(captured.captured_queries))
