"""Where a tenant's files live under its media prefix (server-generated names only)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.files.storage import default_storage


def original_name(sha256: str, extension: str) -> str:
    return f"originals/{sha256[:2]}/{sha256}.{extension.lstrip('.')}"


def thumbnail_name(media_id: int) -> str:
    return f"thumbs/{media_id}.jpg"


def crop_dir(media_id: int) -> str:
    return f"faces/{media_id}"


def crop_name(media_id: int, ordinal: int) -> str:
    return f"{crop_dir(media_id)}/{ordinal}.jpg"


def write_atomically(name: str, data: bytes) -> str:
    """Write ``name`` in the current tenant's storage, replacing any earlier copy.

    A rerun of the same file's processing overwrites its crops instead of
    leaving renamed duplicates behind.
    """
    path = Path(default_storage.path(name))
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(tmp, path)
    return name


def delete_quietly(name: str) -> None:
    if name:
        default_storage.delete(name)
