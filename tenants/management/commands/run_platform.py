"""`make run`: the whole platform in one terminal.

Prepares the database, then supervises the web server (Daphne: HTTP +
WebSocket, config.web_server) and the
processes named in FACET_PROCESSES (a django-q2 cluster, the watch folder).
Ctrl-C (or SIGTERM) stops them, and the embedded database stops with the
last process attached to it.
"""

from __future__ import annotations

import os
import signal
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
        commands = {
            "web": [python, "-m", "config.web_server", "-b", host, "-p", str(port)],
            **{name: [python, *argv] for name, argv in settings.FACET_PROCESSES.items()},
        }
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": os.environ["DJANGO_SETTINGS_MODULE"]}
        children = {
            name: subprocess.Popen(argv, cwd=settings.BASE_DIR, env=env)  # noqa: S603
            for name, argv in commands.items()
        }

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
