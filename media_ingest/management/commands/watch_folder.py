import time

from django.core.management.base import BaseCommand

from media_ingest.conf import ingest_setting
from media_ingest.watch import WatchFolder


class Command(BaseCommand):
    help = "Ingest files dropped into WATCH_DIR/<tenant slug>/ (started by `make run`)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="Sweep twice and exit.")

    def handle(self, *args, once, **options):
        watcher = WatchFolder(root=ingest_setting("WATCH_DIR"))
        interval = ingest_setting("WATCH_INTERVAL_S")
        self.stdout.write(f"Watching {watcher.root}/<tenant>/ every {interval:g}s")
        if once:
            watcher.sweep()  # a file must look the same on two sweeps
            time.sleep(interval)
            watcher.sweep()
            return
        try:
            while True:
                watcher.sweep()
                time.sleep(interval)
        except KeyboardInterrupt:
            pass
