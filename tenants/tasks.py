"""Background tasks that run inside one tenant's schema.

Every task carries its schema name explicitly. It is queued only after the
enqueuing transaction commits (a task never sees rows that were rolled back
or are not yet visible), and it runs through one runner that enters the
schema and always leaves it, so a worker never carries one tenant's schema
into the next task.

Every task declares its budget: the seconds a worker may spend on one run
before the cluster stops it. A budget must stay below the broker's lease
(Q_RETRY), or a task still running would be handed to a second worker; the
system check ``tenants.E001`` refuses settings where one does not (it runs
before `qcluster` and `run_platform` start). Apps import their task modules
in ``AppConfig.ready()`` so that the check sees every task.

    @tenant_task(timeout_s=60)
    def rebuild_thumbnails(media_id: int) -> None: ...

    rebuild_thumbnails.enqueue(media_id, schema_name=connection.schema_name)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import import_module
from typing import Any

import sentry_sdk
from django.db import transaction
from django.dispatch import receiver
from django_q.signals import pre_execute
from django_q.tasks import async_task
from django_tenants.utils import get_public_schema_name, schema_context, tenant_context

from . import metrics
from .log import bound
from .models import Tenant

logger = logging.getLogger(__name__)

# The django-q2 task a worker is running (its id), set just before it runs.
_queue_task_id: ContextVar[str | None] = ContextVar("facet_queue_task_id", default=None)


@receiver(pre_execute, dispatch_uid="facet.tasks.note_task_id")
def _note_task_id(sender, func=None, task=None, **kwargs) -> None:
    _queue_task_id.set((task or {}).get("id"))


@dataclass(frozen=True)
class TenantTaskSpec:
    path: str
    func: Callable[..., Any]
    timeout_s: int


_REGISTRY: dict[str, TenantTaskSpec] = {}


def registered_tasks() -> list[TenantTaskSpec]:
    return list(_REGISTRY.values())


class TenantTaskError(Exception):
    """A tenant task was queued or run without a valid tenant schema."""


def _dotted_path(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def _require_tenant_schema(schema_name: str) -> None:
    if not schema_name or not isinstance(schema_name, str):
        raise TenantTaskError("A tenant task needs the schema_name of its tenant.")
    if schema_name == get_public_schema_name():
        raise TenantTaskError("Tenant tasks cannot run in the public schema.")


def enqueue_tenant_task(
    func: Callable[..., Any] | str,
    *args: Any,
    schema_name: str,
    q_options: dict[str, Any] | None = None,
    **kwargs: Any,
) -> None:
    """Queue ``func(*args, **kwargs)`` to run in ``schema_name`` once this transaction commits.

    Arguments must be primitives (ids, strings): the task reloads what it needs.
    ``q_options`` passes django-q2 options such as ``cluster``; the timeout is
    the task's declared budget.
    """
    _require_tenant_schema(schema_name)
    path = func if isinstance(func, str) else _dotted_path(func)
    spec = _registered(path)
    options = {
        "task_name": f"{schema_name}:{path.rsplit('.', 1)[-1]}",
        "timeout": spec.timeout_s,
        **(q_options or {}),
    }

    def send() -> None:
        async_task(run_tenant_task, schema_name, path, *args, q_options=options, **kwargs)

    transaction.on_commit(send, robust=False)


def _registered(path: str) -> TenantTaskSpec:
    """The task at ``path``; its module is imported first in a fresh worker."""
    if path not in _REGISTRY:
        module, _, _ = path.rpartition(".")
        with contextlib.suppress(ImportError):
            import_module(module)
    spec = _REGISTRY.get(path)
    if spec is None:
        raise TenantTaskError(f"{path} is not a registered tenant task (use @tenant_task).")
    return spec


def run_tenant_task(schema_name: str, path: str, *args: Any, **kwargs: Any) -> Any:
    """The one entry point workers call: enter the tenant's schema, run, restore."""
    _require_tenant_schema(schema_name)
    func = _registered(path).func
    with schema_context(get_public_schema_name()):
        tenant = Tenant.objects.filter(schema_name=schema_name).first()
    if tenant is None:
        raise TenantTaskError(f"No tenant has the schema {schema_name!r}.")
    task_id = _queue_task_id.get() or "-"
    with (
        sentry_sdk.new_scope() as scope,
        # The tenant on the connection, as a request has it: the task's code
        # reads it (tenants.selectors.current_tenant) without another query.
        tenant_context(tenant),
        bound(schema_name=schema_name, task_name=path, task_id=task_id),
    ):
        scope.set_tag("tenant", schema_name)
        scope.set_tag("task", path)
        scope.set_tag("task_id", task_id)
        started, outcome = time.perf_counter(), "failed"
        try:
            result = func(*args, **kwargs)
            outcome = "ok"
            return result
        except Exception:
            # django-q2 only logs failures; operators see them in Sentry too.
            sentry_sdk.capture_exception()
            logger.exception("tenant task %s failed in %s", path, schema_name)
            raise
        finally:
            metrics.TASK_DURATION.labels(task=path).observe(time.perf_counter() - started)
            metrics.TASKS.labels(task=path, outcome=outcome).inc()


def tenant_task(*, timeout_s: int) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a tenant task with its budget and give it ``.enqueue(*args, schema_name=...)``."""
    if not isinstance(timeout_s, int) or timeout_s <= 0:
        raise TenantTaskError("A tenant task declares its budget: timeout_s, in seconds.")

    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        path = _dotted_path(func)
        _REGISTRY[path] = TenantTaskSpec(path, func, timeout_s)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

        wrapper.enqueue = functools.partial(enqueue_tenant_task, path)  # type: ignore[attr-defined]
        wrapper.task_path = path  # type: ignore[attr-defined]
        wrapper.timeout_s = timeout_s  # type: ignore[attr-defined]
        return wrapper

    return register
