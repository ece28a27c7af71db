"""Live events: the cost of one group send on the embedded channel layer.

    .venv/bin/python -m bench.live_events [--events 400] [--rounds 3]

Every processed file sends several live events (queued, started, stored, the
job's progress), from the web process and from the worker. This sends
EVENTS events, the way ``tenants.events.send_event`` does (``async_to_sync``
from sync code), through channels-postgres's own ``PostgresChannelLayer``
(the peer) and through ``tenants.channel_layer.GroupSendOnceChannelLayer``,
alternating in ROUNDS rounds in this process, on a bench-only embedded
PostgreSQL (FACET_VAR_DIR, default /tmp/facet-live-events-bench):
- with no socket in the group (the common case: nobody has the page open);
- with one socket in the group (its queued messages are counted and cleared after each run).

Printed (stable lines):
    <layer>, <n> listening: <a> ms wall, <b> ms CPU here, <c> ms CPU database per event
    one statement / channels-postgres, <n> listening: wall <r>x, CPU here <s>x, database <t>x
"""

from __future__ import annotations

import argparse
import contextlib
import os
import tempfile
import time
from pathlib import Path

import psutil

os.environ.setdefault(
    "FACET_VAR_DIR", os.path.join(tempfile.gettempdir(), "facet-live-events-bench")
)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


def _database_cpu() -> float:
    """CPU seconds of the bench's own PostgreSQL: its postmaster and every
    backend under it (the machine's other servers are left out)."""
    pid_file = Path(os.environ["FACET_VAR_DIR"]).resolve() / "pgdata" / "postmaster.pid"
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    total = 0.0
    for proc in [postmaster, *postmaster.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):  # a backend that ended meanwhile
            total += sum(proc.cpu_times()[:2])
    return total


def _layers():
    from channels_postgres.core import PostgresChannelLayer
    from django.conf import settings

    from tenants.channel_layer import GroupSendOnceChannelLayer

    config = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return {
        "channels-postgres": PostgresChannelLayer(**config),
        "one statement": GroupSendOnceChannelLayer(**config),
    }


def _measure(layer, events: int, listener: str | None) -> tuple[float, float, float]:
    from asgiref.sync import async_to_sync

    group = "tenant.bench.events"
    message = {"type": "tenant.event", "event": {"kind": "media.progress", "id": "x" * 32}}
    here, db, wall = time.process_time(), _database_cpu(), time.perf_counter()
    for _ in range(events):
        async_to_sync(layer.group_send)(group, message)
    wall = time.perf_counter() - wall
    here, db = time.process_time() - here, _database_cpu() - db
    if listener is not None:  # what reached the socket's queue, counted and cleared
        from channels_postgres.db import MESSAGE_TABLE
        from django.db import connections

        with connections["channels_postgres"].cursor() as cursor:
            cursor.execute(f"DELETE FROM {MESSAGE_TABLE} WHERE channel = %s", [listener])  # noqa: S608
            assert cursor.rowcount == events, f"{cursor.rowcount} of {events} events queued"
    return wall * 1000 / events, here * 1000 / events, db * 1000 / events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from bench.clusters import setup_django

    setup_django()
    from asgiref.sync import async_to_sync

    layers = _layers()
    for listening in (0, 1):
        listener = None
        if listening:
            listener = async_to_sync(layers["one statement"].new_channel)()
            async_to_sync(layers["one statement"].group_add)("tenant.bench.events", listener)
        totals = {name: [0.0, 0.0, 0.0] for name in layers}
        for layer in layers.values():  # warm: pools, prepared statements
            _measure(layer, 20, listener)
        for _ in range(args.rounds):
            for name, layer in layers.items():
                for i, value in enumerate(_measure(layer, args.events, listener)):
                    totals[name][i] += value / args.rounds
        for name, (wall, here, db) in totals.items():
            print(
                f"{name}, {listening} listening: {wall:.2f} ms wall, {here:.2f} ms CPU here, "
                f"{db:.2f} ms CPU database per event"
            )
        peer, ours = totals["channels-postgres"], totals["one statement"]
        print(
            f"one statement / channels-postgres, {listening} listening: "
            f"wall {ours[0] / peer[0]:.2f}x, CPU here {ours[1] / peer[1]:.2f}x, "
            f"database {ours[2] / max(peer[2], 1e-9):.2f}x",
            flush=True,
        )
        if listener is not None:
            async_to_sync(layers["one statement"].group_discard)("tenant.bench.events", listener)


if __name__ == "__main__":
    main()
