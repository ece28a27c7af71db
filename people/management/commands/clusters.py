import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django_tenants.utils import tenant_context

from people.discovery import selectors
from people.discovery import services as discovery
from recognition.selectors import current_face_model
from tenants.events import publish_event
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "People to name: a tenant's clusters of unknown faces (status, full rebuild)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        status = actions.add_parser("status", help="Clusters, pending and left-out faces.")
        status.add_argument("slug", help="Tenant slug")
        rebuild = actions.add_parser(
            "rebuild",
            help="Empty the tenant's clusters and place every face again ('not the same' "
            "is kept; hidden clusters are forgotten). New faces are placed as they come "
            "without this: it is for after changing the link threshold.",
        )
        rebuild.add_argument("slug", help="Tenant slug")
        rebuild.add_argument("--batch", type=int, default=500, help="Faces per transaction")

    def handle(self, *args, action, slug, **options):
        tenant = tenant_get(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}. See `manage.py tenant list`.")
        with tenant_context(tenant):
            getattr(self, f"handle_{action}")(**options)

    def handle_status(self, **_):
        counts = selectors.discovery_counts()
        self.stdout.write(
            f"clusters {counts.clusters} (hidden {counts.hidden}), pending faces "
            f"{counts.pending}, left out for quality {counts.low_quality}"
        )

    def handle_rebuild(self, batch, **_):
        face_model = current_face_model()
        schema = connection.schema_name
        started = time.perf_counter()

        def progress(counts, done, total):
            self.stdout.write(f"  placed {done}/{total} faces ({counts.started} clusters so far)")
            publish_event(
                schema_name=schema,
                kind="clusters.progress",
                data={
                    "done": done,
                    "total": total,
                    "message": f"Regrouping faces: {done} of {total}",
                },
            )

        discovery.clusters_rebuild(face_model=face_model, batch=batch, progress=progress)
        elapsed = time.perf_counter() - started
        counts = selectors.discovery_counts()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt in {elapsed:.1f} s: {counts.clusters} clusters to name, "
                f"{counts.pending} faces pending"
            )
        )
