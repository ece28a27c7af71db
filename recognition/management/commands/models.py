from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from recognition import selectors, services
from recognition.errors import ModelPackError
from tenants.selectors import tenant_get


class Command(BaseCommand):
    help = "Register face model packs and choose which model tenants use."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = actions.add_parser("import", help="Register an InsightFace pack (directory or .zip).")
        imp.add_argument("path", type=Path)
        imp.add_argument("--name", help="Registry name (defaults to the pack's folder name).")
        imp.add_argument("--licence-file", type=Path, help="Licence text to record with it.")
        imp.add_argument(
            "--threshold",
            type=float,
            default=services.PACK_MATCH_THRESHOLD,
            help="Cosine similarity above which faces match (search default).",
        )
        imp.add_argument(
            "--cluster-threshold",
            type=float,
            default=services.PACK_CLUSTER_THRESHOLD,
            help="Cosine similarity at which discovery links two unknown faces.",
        )
        actions.add_parser("list", help="Registered models; * marks the default.")
        use = actions.add_parser("use", help="Set a tenant's active model.")
        use.add_argument("tenant", help="Tenant slug")
        use.add_argument("model", help="Model id, name or name:version")
        default = actions.add_parser("default", help="Set the model of tenants without a choice.")
        default.add_argument("model")

    def handle(self, *args, action, **options):
        services.builtin_model_ensure()
        getattr(self, f"handle_{action}")(**options)

    def _model(self, reference):
        model = selectors.face_model_get(reference=reference)
        if model is None:
            raise CommandError(f"No model {reference!r}. See `manage.py models list`.")
        return model

    def handle_import(self, path, name, licence_file, threshold, cluster_threshold, **_):
        licence = licence_file.read_text() if licence_file else None
        try:
            model = services.face_model_import(
                source=path,
                name=name,
                licence=licence,
                match_threshold=threshold,
                cluster_threshold=cluster_threshold,
            )
        except ModelPackError as exc:
            raise CommandError(f"Pack refused: {exc}") from None
        self.stdout.write(self.style.SUCCESS(f"Registered {model} (id {model.pk})"))
        self.stdout.write(
            f"  embedding: {model.embedding_dim}-D, files: {', '.join(model.weights)}"
        )
        self.stdout.write(f"  licence:   {model.licence.splitlines()[0]}")

    def handle_list(self, **_):
        self.stdout.write(
            f"{'ID':>3}  {'NAME':<32} {'VERSION':<34} {'DIM':>4} {'TENANTS':>7}  LICENCE"
        )
        for model in selectors.face_model_list():
            mark = "*" if model.is_default else " "
            licence = model.licence.splitlines()[0][:60] if model.licence else "?"
            self.stdout.write(
                f"{model.pk:>3}{mark} {model.name:<32} {model.version:<34} "
                f"{model.embedding_dim:>4} {model.tenant_count:>7}  {licence}"
            )

    def handle_use(self, tenant, model, **_):
        target = tenant_get(slug=tenant)
        if target is None:
            raise CommandError(f"No tenant {tenant!r}.")
        face_model = self._model(model)
        services.tenant_face_model_set(tenant=target, face_model=face_model)
        self.stdout.write(self.style.SUCCESS(f"{tenant} now uses {face_model}"))

    def handle_default(self, model, **_):
        face_model = services.face_model_set_default(face_model=self._model(model))
        self.stdout.write(self.style.SUCCESS(f"Default model: {face_model}"))
