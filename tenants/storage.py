"""Tenant media in S3 (``FACET_STORAGE=s3``): one bucket, one prefix per schema.

``TenantS3Storage`` is django-storages' S3 storage whose location is
``<FACET_S3_PREFIX>/<current schema>/``, resolved at every call as
django-tenants' file system storage resolves ``MEDIA_ROOT/<schema>/``, so a
name can never reach another tenant's objects (``safe_join`` refuses ``..``).
Reads stay proxied through the tenant-checked media view (``tenants.views``):
no object is public and no URL leaves the platform; the view asks for byte
ranges with ``read_range`` instead of downloading a whole video per request.

Works against any S3 protocol server (AWS, MinIO, Ceph RGW; moto in tests).
"""

from __future__ import annotations

from django.conf import settings
from django.db import connection
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

_DELETE_BATCH = 1000  # S3's DeleteObjects limit


def tenant_prefix(schema_name: str) -> str:
    return f"{settings.FACET_S3_PREFIX.strip('/')}/{schema_name}".lstrip("/")


class TenantS3Storage(S3Storage):
    file_overwrite = True  # server-generated names; a rerun replaces its crops
    default_acl = None
    querystring_auth = True

    @property
    def location(self) -> str:
        return tenant_prefix(connection.schema_name)

    @location.setter
    def location(self, value) -> None:
        """S3Storage's settings set a fixed location: the schema decides it here."""

    def read_range(self, name: str, start: int, end: int) -> bytes:
        """Bytes ``start``..``end`` (inclusive) of ``name``, from S3 directly."""
        key = self._normalize_name(clean_name(name))
        reply = self.bucket.Object(key).get(Range=f"bytes={start}-{end}")
        return reply["Body"].read()

    def open_stream(self, name: str):
        """The object's body as a stream (not spooled to a local file first)."""
        key = self._normalize_name(clean_name(name))
        return self.bucket.Object(key).get()["Body"]

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under ``prefix`` (a folder of the current tenant)."""
        key = self._normalize_name(clean_name(prefix)).rstrip("/") + "/"
        return _delete_keys(self.bucket, key)


def _delete_keys(bucket, prefix: str) -> int:
    deleted = 0
    batch: list[dict] = []
    for obj in bucket.objects.filter(Prefix=prefix):
        batch.append({"Key": obj.key})
        if len(batch) == _DELETE_BATCH:
            bucket.delete_objects(Delete={"Objects": batch, "Quiet": True})
            deleted += len(batch)
            batch = []
    if batch:
        bucket.delete_objects(Delete={"Objects": batch, "Quiet": True})
        deleted += len(batch)
    return deleted


def delete_tenant_objects(schema_name: str) -> int:
    """Every object of one tenant (``tenant delete``): its whole prefix."""
    from django.core.files.storage import default_storage

    return _delete_keys(default_storage.bucket, tenant_prefix(schema_name) + "/")


def tenant_objects(schema_name: str):
    """(name under the tenant's prefix, size, opener) of each of its objects, for
    tenant archives (tenants.backup)."""
    from django.core.files.storage import default_storage

    prefix = tenant_prefix(schema_name) + "/"
    for obj in sorted(default_storage.bucket.objects.filter(Prefix=prefix), key=lambda o: o.key):
        yield obj.key[len(prefix) :], obj.size, _opener(default_storage.bucket, obj.key)


def _opener(bucket, key: str):
    import contextlib

    @contextlib.contextmanager
    def open_body(mode: str = "rb"):
        body = bucket.Object(key).get()["Body"]
        try:
            yield body
        finally:
            body.close()

    return open_body


def upload_tenant_files(schema_name: str, directory) -> int:
    """Every file under ``directory`` to the tenant's prefix (a restored archive)."""
    from pathlib import Path

    from django.core.files.storage import default_storage

    root = Path(directory)
    if not root.is_dir():
        return 0
    prefix = tenant_prefix(schema_name)
    count = 0
    for path in sorted(root.rglob("*")):
        if path.is_file():
            default_storage.bucket.upload_file(
                str(path), f"{prefix}/{path.relative_to(root).as_posix()}"
            )
            count += 1
    return count
