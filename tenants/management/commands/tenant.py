from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tenants import backup, selectors, services


class Command(BaseCommand):
    help = "Create, list, suspend, resume, back up, restore and delete tenants."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

        create = actions.add_parser("create", help="Create a tenant with its schema and owner.")
        create.add_argument("slug", help="Short name: lower-case letters, digits, dashes.")
        create.add_argument("--domain", required=True, help="Host name, e.g. acme.localhost")
        create.add_argument("--owner-email", required=True)
        create.add_argument("--owner-password", help="Generated and printed when omitted.")
        create.add_argument("--name", help="Display name (defaults to the slug).")

        actions.add_parser("list", help="List tenants with their hosts and state.")

        for verb, text in (
            ("suspend", "Block every route of a tenant (403)."),
            ("resume", "Lift a suspension."),
        ):
            sub = actions.add_parser(verb, help=text)
            sub.add_argument("slug")

        quota = actions.add_parser("quota", help="Limit the storage of a tenant's originals.")
        quota.add_argument("slug")
        limit = quota.add_mutually_exclusive_group(required=True)
        limit.add_argument("--mb", type=int, help="Megabytes of originals; 0 for no limit.")
        limit.add_argument(
            "--default", action="store_true", help="Back to FACET_TENANT_STORAGE_QUOTA_MB."
        )

        save = actions.add_parser(
            "backup", help="Write one archive: the schema's dump, the media, a manifest."
        )
        save.add_argument("slug")
        save.add_argument(
            "--output", required=True, type=Path, help="A new file (.tar, or .tar.gz)."
        )

        load = actions.add_parser("restore", help="Restore an archive into a new tenant.")
        load.add_argument("archive", type=Path)
        load.add_argument("--slug", required=True, help="The new tenant's slug (must be free).")
        load.add_argument("--domain", required=True, help="The new tenant's host name.")
        load.add_argument("--name", help="Display name (default: the archived tenant's).")
        load.add_argument("--owner-email", help="Make this account an owner (created if new).")
        load.add_argument("--owner-password", help="Its password (generated when new and omitted).")

        delete = actions.add_parser("delete", help="Drop a tenant's schema and media for good.")
        delete.add_argument("slug")
        delete.add_argument("--yes", action="store_true", help="Confirm: this cannot be undone.")

    def handle(self, *args, action, **options):
        getattr(self, f"handle_{action}")(**options)

    def _tenant(self, slug):
        tenant = selectors.tenant_get(slug=slug)
        if tenant is None:
            raise CommandError(f"No tenant {slug!r}. See `manage.py tenant list`.")
        return tenant

    def handle_create(self, slug, domain, owner_email, owner_password, name, **_):
        try:
            created = services.tenant_create(
                slug=slug,
                domain=domain,
                owner_email=owner_email,
                owner_password=owner_password,
                name=name,
            )
        except services.TenantError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(f"Created tenant {slug} at http://{domain}"))
        self.stdout.write(f"  owner:    {created.owner_email}")
        if created.password_generated:
            self.stdout.write(f"  password: {created.owner_password}  (shown once)")

    def handle_list(self, **_):
        tenants = list(selectors.tenant_list())
        if not tenants:
            self.stdout.write("No tenants yet. Create one with `manage.py tenant create`.")
            return
        self.stdout.write(f"{'SLUG':<20} {'SCHEMA':<24} {'STATE':<10} {'QUOTA':<10} HOSTS")
        for tenant in tenants:
            state = "suspended" if tenant.is_suspended else "active"
            quota = tenant.storage_quota_bytes
            quota_text = f"{quota // (1024 * 1024)} MB" if quota else "none"
            hosts = ", ".join(d.domain for d in tenant.domains.all())
            self.stdout.write(
                f"{tenant.slug:<20} {tenant.schema_name:<24} {state:<10} {quota_text:<10} {hosts}"
            )

    def handle_suspend(self, slug, **_):
        services.tenant_suspend(tenant=self._tenant(slug))
        self.stdout.write(self.style.WARNING(f"Suspended {slug}: its hosts now answer 403."))

    def handle_resume(self, slug, **_):
        services.tenant_resume(tenant=self._tenant(slug))
        self.stdout.write(self.style.SUCCESS(f"Resumed {slug}."))

    def handle_quota(self, slug, mb, default, **_):
        if mb is not None and mb < 0:
            raise CommandError("--mb takes 0 (no limit) or a positive number of megabytes.")
        tenant = services.tenant_set_quota(
            tenant=self._tenant(slug), megabytes=None if default else mb
        )
        quota = tenant.storage_quota_bytes
        text = f"{quota // (1024 * 1024)} MB of originals" if quota else "no storage limit"
        self.stdout.write(self.style.SUCCESS(f"{slug} now has {text}."))

    def handle_backup(self, slug, output, **_):
        try:
            result = backup.tenant_backup(tenant=self._tenant(slug), output=output)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        manifest = result.manifest
        rows = sum(manifest["row_counts"].values())
        files = len(manifest["files"]) - 1
        self.stdout.write(
            self.style.SUCCESS(
                f"Backed up {slug} to {result.path}: {rows} rows, {files} media files."
            )
        )

    def handle_restore(self, archive, slug, domain, name, owner_email, owner_password, **_):
        if owner_password and not owner_email:
            raise CommandError("--owner-password goes with --owner-email.")
        if not archive.is_file():
            raise CommandError(f"No archive at {archive}.")
        try:
            result = backup.tenant_restore(
                archive_path=archive,
                slug=slug,
                domain=domain,
                name=name,
                owner_email=owner_email,
                owner_password=owner_password,
            )
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from None
        source = result.manifest["tenant"]["slug"]
        self.stdout.write(
            self.style.SUCCESS(f"Restored {source}'s archive as {slug} at http://{domain}")
        )
        if result.migrated:
            self.stdout.write("  the archive's schema was older: migrated to this release")
        if result.generated_password:
            self.stdout.write(f"  owner:    {owner_email}")
            self.stdout.write(f"  password: {result.generated_password}  (shown once)")

    def handle_delete(self, slug, yes, **_):
        tenant = self._tenant(slug)
        if not yes:
            raise CommandError(
                f"This drops schema {tenant.schema_name} and all of {slug}'s media. "
                "Add --yes to confirm."
            )
        services.tenant_delete(tenant=tenant)
        self.stdout.write(self.style.SUCCESS(f"Deleted {slug}, its schema and its media."))
