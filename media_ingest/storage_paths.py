"""Where a tenant's files live under its media prefix (server-generated names only)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def original_name(sha256: str, extension: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}.{extension.lstrip('.')}"


def thumbnail_name(media_id: int) -> str:
    return f"thumbs/{media_id}.jpg"


def crop_dir(media_id: int) -> str:
    return f"faces/{media_id}"


def crop_name(media_id: int, ordinal: int) -> str:
    return f"{crop_dir(media_id)}/{ordinal}.jpg"


def _on_disk(name: str) -> str | None:
    """The file system path of ``name``, or None where the storage has none (an
    object store: Django's storages raise NotImplementedError for ``path``)."""
    try:
        return default_storage.path(name)
    except NotImplementedError:
        return None


def write_atomically(name: str, data: bytes) -> str:
    """Write ``name`` in the current tenant's storage, replacing any earlier copy.

    A rerun of the same file's processing overwrites its crops instead of
    leaving renamed duplicates behind. (An object store, FACET_STORAGE=s3,
    replaces an object whole: its PUT is the atomic write.)
    """
    on_disk = _on_disk(name)
    if on_disk is None:
        stored = default_storage.save(name, ContentFile(data))
        if stored != name:
            raise RuntimeError(f"the storage renamed {name} to {stored}: it must overwrite")
        return name
    path = Path(on_disk)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return name


def delete_quietly(name: str) -> None:
    if name:
        default_storage.delete(name)


def delete_tree(prefix: str) -> None:
    """Every file under ``prefix`` (a folder of the current tenant's storage)."""
    if hasattr(default_storage, "delete_prefix"):
        default_storage.delete_prefix(prefix)
        return
    shutil.rmtree(default_storage.path(prefix), ignore_errors=True)


@contextlib.contextmanager
def local_path(name: str) -> Iterator[str]:
    """A local file path for ``name``: the file itself on a file system, else a
    temporary copy (video decoding runs a child process on a path)."""
    path = _on_disk(name)
    if path is not None:
        yield path
        return
    suffix = Path(name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="facet-media-") as copy:
        with default_storage.open(name, "rb") as source:
            shutil.copyfileobj(source, copy, 1024 * 1024)
        copy.flush()
        yield copy.name
