"""`make run`: the whole platform in one terminal.

Prepares the database, then supervises the web server (Daphne: HTTP +
WebSocket, config.web_server) and the
processes named in FACET_PROCESSES (a django-q2 cluster, the watch folder).
Ctrl-C (or SIGTERM) stops them, and the embedded database stops with the
last process attached to it.

The web server runs as FACET_WEB_PROCESSES processes accepting on one socket
opened here: photo searches, "who is this?" and kiosk frames spend most of a
request in Python, and one process's GIL would queue every request behind
the others' on a single core however many cores the machine has. Their live
events cross processes through the channel layer (PostgreSQL or Redis), and
their metrics through the multiprocess directory.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from tenants.metrics import clean_metrics_dir
from tenants.platform import demo_tenant_ensure, platform_prepare


class Command(BaseCommand):
    help = "Run the web server (Daphne) and the task workers, supervised."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=os.environ.get("FACET_HTTP_HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.FACET_HTTP_PORT)

    def handle(self, *args, host, port, **options):
        started = time.monotonic()
        # Every process writes its metric samples here; those of a previous run go.
        clean_metrics_dir()
        self.stdout.write("Preparing the database (migrations, public host, demo tenant)…")
        platform_prepare()
        demo = demo_tenant_ensure(port=port)

        python = sys.executable
        web, listener = web_commands(python, host, port, settings.FACET_WEB_PROCESSES)
        commands = {
            **web,
            **{name: [python, *argv] for name, argv in settings.FACET_PROCESSES.items()},
        }
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        shared = (listener.fileno(),) if listener else ()
        children = {
            name: subprocess.Popen(  # noqa: S603
                argv, cwd=settings.BASE_DIR, env=env, pass_fds=shared if name in web else ()
            )
            for name, argv in commands.items()
        }
        if listener:
            listener.close()  # the web processes hold it now

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)

        self.stdout.write(
            self.style.SUCCESS(f"\nFacet is starting ({time.monotonic() - started:.1f}s to here).")
        )
        self.stdout.write(f"  Demo tenant:    {demo.url}/")
        self.stdout.write(f"    sign in as    {demo.email} / {demo.password}")
        self.stdout.write(f"  API docs:       {demo.url}/api/docs/")
        self.stdout.write(f"  Platform admin: http://{settings.FACET_PUBLIC_HOST}:{port}/admin/")
        self.stdout.write(f"  Readiness:      http://127.0.0.1:{port}/health/ready")
        self.stdout.write("Press Ctrl-C to stop.\n")

        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with status {child.returncode}; stopping.")
                    exit_code = 1
                    stopping = True
            time.sleep(0.5)

        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        self.stdout.write("Stopped web and worker processes.")
        if exit_code:
            sys.exit(exit_code)


def web_commands(
    python: str, host: str, port: int, processes: int
) -> tuple[dict[str, list[str]], socket.socket | None]:
    """The web server's argv by process name, and the listening socket they
    share (None for one process, which binds its own). Daphne adopts an
    inherited socket as IPv4 only, so an IPv6 host gets one process."""
    argv = [python, "-m", "config.web_server"]
    if processes <= 1 or _is_ipv6(host):
        return {"web": [*argv, "-b", host, "-p", str(port)]}, None
    listener = socket.create_server((host, port), backlog=1024)
    listener.set_inheritable(True)
    fd = ["--fd", str(listener.fileno())]
    return {f"web-{n}": [*argv, *fd] for n in range(1, processes + 1)}, listener


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False  # a name: create_server resolves it as IPv4
