"""TENANT_LIMIT_SET_CALLS: `SET search_path` is sent once per connection and
tenant, not before every statement. Each way the database can drop or replace
that SET must make the next statement send it again, or a request would read
another tenant's tables (or the public schema's)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django_tenants.utils import schema_context

from tests.conftest import ALPHA, BETA


def _database_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def _emails() -> set[str]:
    """The accounts of the schema the statement ran in (each tenant has its own)."""
    return set(get_user_model().objects.values_list("email", flat=True))


class _Abort(Exception):
    pass


def test_the_search_path_is_sent_once_per_tenant_not_per_statement(alpha, beta):
    from django.test.utils import CaptureQueriesContext

    with schema_context(alpha.schema_name), CaptureQueriesContext(connection) as captured:
        for _ in range(3):
            assert _emails() == {alpha.owner.email, alpha.viewer.email}
    sets = [q for q in captured.captured_queries if q["sql"].startswith("SET search_path")]
    assert len(sets) == 1
    with schema_context(beta.schema_name):
        assert _emails() == {beta.owner.email, beta.viewer.email}
        assert _database_schema() == beta.schema_name


def test_a_savepoint_rolled_back_after_the_set_does_not_leave_the_old_schema(alpha, beta):
    with schema_context(beta.schema_name):
        assert _database_schema() == beta.schema_name
    with schema_context(alpha.schema_name):
        with pytest.raises(_Abort), transaction.atomic():
            # The first statement in alpha sends the SET inside the savepoint...
            assert _emails() == {alpha.owner.email, alpha.viewer.email}
            raise _Abort
        # ...which the rollback undid: the next one must send it again.
        assert _database_schema() == alpha.schema_name
        assert _emails() == {alpha.owner.email, alpha.viewer.email}


def test_a_transaction_rolled_back_after_the_set_does_not_leave_the_old_schema(committed):
    with schema_context(BETA.schema_name):
        assert _database_schema() == BETA.schema_name
    with schema_context(ALPHA.schema_name):
        with pytest.raises(_Abort), transaction.atomic():
            assert _emails() == {ALPHA.owner.email, ALPHA.viewer.email}
            raise _Abort
        assert _database_schema() == ALPHA.schema_name
        assert _emails() == {ALPHA.owner.email, ALPHA.viewer.email}


def test_a_new_connection_sends_the_set_again(committed):
    with schema_context(ALPHA.schema_name):
        assert _database_schema() == ALPHA.schema_name
        connection.close()
        assert _database_schema() == ALPHA.schema_name
