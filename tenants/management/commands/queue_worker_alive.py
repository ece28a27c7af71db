"""Exit 0 when this host's django-q2 cluster has written its heartbeat: the
liveness probe of a worker container (compose healthcheck, k8s exec probe).

A cluster saves its status every few seconds with a 3-second expiry, keyed by
the cluster's name (Q_CLUSTER_NAME), so a hung or dead sentinel disappears.
Only the cluster on this host (the container's hostname) counts: another pod's
heartbeat must not keep a stuck one alive.
"""

from __future__ import annotations

import socket
import time

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Exit 0 when this host's task cluster is alive (a worker's liveness probe)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--wait",
            type=float,
            default=5.0,
            help="Seconds to keep looking for a heartbeat (a status lives 3 s).",
        )

    def handle(self, *args, wait, **options):
        from django_q.conf import Conf
        from django_q.status import Stat

        host = socket.gethostname()
        deadline = time.monotonic() + wait
        while True:
            alive = [s for s in Stat.get_all() if s.host == host and s.status != Conf.STOPPED]
            if alive:
                stat = alive[0]
                self.stdout.write(f"cluster {Conf.PREFIX} on {host}: {stat.status}")
                return
            if time.monotonic() >= deadline:
                raise CommandError(f"no heartbeat from cluster {Conf.PREFIX!r} on {host}")
            time.sleep(0.5)
