from django.core.management.base import BaseCommand, CommandError
from django_tenants.utils import schema_context

from media_ingest.embeddings import FACE_TABLE
from recognition.selectors import active_face_model
from tenants.selectors import tenant_get
from vectors import indexes
from vectors.basis import FIT_MIN_FACES, basis_get, is_wide, refit


def _mib(size_bytes: int) -> str:
    return f"{size_bytes / 2**20:,.0f} MiB"


class Command(BaseCommand):
    help = (
        "Show, drop or build a tenant's face search (HNSW) indexes. For a very large "
        "import: drop, load, build (far faster than inserting into a live index)."
    )

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        status = actions.add_parser("status", help="Indexes, sizes and the faces they cover.")
        status.add_argument("tenant", help="Tenant slug")

        drop = actions.add_parser("drop", help="Drop an index (search falls back to a scan).")
        drop.add_argument("tenant")
        drop.add_argument("--dim", type=int, required=True, choices=indexes.INDEXED_DIMENSIONS)

        build = actions.add_parser("build", help="Build missing indexes (or --replace them).")
        build.add_argument("tenant")
        build.add_argument("--dim", type=int, choices=indexes.INDEXED_DIMENSIONS)
        build.add_argument("--replace", action="store_true", help="Drop and build again.")
        build.add_argument("--m", type=int, default=16, help="HNSW links per node (16)")
        build.add_argument("--ef-construction", type=int, default=64, help="(64)")
        build.add_argument(
            "--memory",
            default=indexes.DEFAULT_BUILD_MEMORY,
            help=f"maintenance_work_mem for the build ({indexes.DEFAULT_BUILD_MEMORY}); "
            "the graph should fit in it",
        )
        build.add_argument(
            "--workers", type=int, help="parallel maintenance workers (server default)"
        )

        fit = actions.add_parser(
            "fit",
            help="Fit the sketch basis of the tenant's wide (512-D) model to its faces, "
            "rewrite them in it and rebuild the index (done once by itself at "
            f"{FIT_MIN_FACES:,} faces; refit after the faces have changed a lot).",
        )
        fit.add_argument("tenant")
        fit.add_argument(
            "--memory",
            default=indexes.DEFAULT_BUILD_MEMORY,
            help=f"maintenance_work_mem for the build ({indexes.DEFAULT_BUILD_MEMORY})",
        )
        fit.add_argument(
            "--compact",
            action="store_true",
            help="shrink the table back after the rewrite (VACUUM FULL): searches and "
            "uploads of this tenant wait meanwhile",
        )

    def handle(self, *args, action, tenant, **options):
        found = tenant_get(slug=tenant)
        if found is None:
            raise CommandError(f"No tenant {tenant!r}. See `manage.py tenant list`.")
        with schema_context(found.schema_name):
            getattr(self, f"handle_{action}")(tenant=found, **options)

    def handle_status(self, tenant, **_):
        for state in indexes.index_status(FACE_TABLE):
            if not state.exists:
                shape = "MISSING (searches scan every face; run `face_index build`)"
            elif not state.valid:
                shape = "INVALID (an interrupted build; run `face_index build --replace`)"
            else:
                shape = _mib(state.size_bytes)
            self.stdout.write(
                f"{state.dimension:>4}-D  {state.name:<24} {state.rows:>10,} faces  {shape}"
            )
        model = active_face_model(tenant=tenant)
        if is_wide(model.embedding_dim):
            basis = basis_get(model.pk)
            if basis is None:
                sketch = f"the engine's basis (fitted by itself at {FIT_MIN_FACES:,} faces)"
            else:
                sketch = (
                    f"fitted {basis.fitted_at:%Y-%m-%d %H:%M} on {basis.sample_rows:,} faces, "
                    f"holding {basis.sketch_energy:.0%} of their energy"
                )
            self.stdout.write(f"Sketch of {model}: {sketch}")

    def handle_drop(self, dim, **_):
        if indexes.index_drop(FACE_TABLE, dim):
            self.stdout.write(self.style.SUCCESS(f"Dropped the {dim}-D index."))
        else:
            self.stdout.write(f"No {dim}-D index to drop.")

    def handle_build(self, dim, replace, m, ef_construction, memory, workers, **_):
        for dimension in [dim] if dim else indexes.INDEXED_DIMENSIONS:
            self.stdout.write(f"Building the {dimension}-D index ...")
            try:
                built = indexes.index_build(
                    FACE_TABLE,
                    dimension,
                    m=m,
                    ef_construction=ef_construction,
                    maintenance_work_mem=memory,
                    parallel_workers=workers,
                    replace=replace,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            if built.created:
                self.stdout.write(
                    self.style.SUCCESS(
                        f"  {built.name}: built in {built.seconds:.1f} s, {_mib(built.size_bytes)}"
                    )
                )
            else:
                self.stdout.write(f"  {built.name}: present already (use --replace to rebuild)")

    def handle_fit(self, tenant, memory, compact, **_):
        model = active_face_model(tenant=tenant)
        if not is_wide(model.embedding_dim):
            raise CommandError(
                f"{model} is indexed whole ({model.embedding_dim}-D): it has no sketch to fit."
            )
        self.stdout.write(f"Fitting the sketch basis of {model} ...")
        # Every embedding table of the tenant is refitted with the catalogue.
        done = refit(
            face_model_id=model.pk,
            dimension=model.embedding_dim,
            maintenance_work_mem=memory,
            compact=compact,
        )
        if done.fit is None:
            self.stdout.write("  No faces of this model yet: nothing to fit.")
            return
        self.stdout.write(
            self.style.SUCCESS(
                f"  Fitted on {done.fit.sample_rows:,} faces; {done.fit.rewritten_rows:,} "
                f"rewritten in {done.fit.seconds:.1f} s. Share of the faces' energy in the "
                f"sketch: {done.fit.sketch_energy_before:.2f} -> {done.fit.sketch_energy:.2f}. "
                + " ".join(
                    f"Index {build.name} rebuilt in {build.seconds:.1f} s." for build in done.builds
                )
            )
        )
