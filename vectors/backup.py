"""After a tenant archive is restored (tenants.backup): build the HNSW indexes.

The restore leaves the dump's HNSW index statements out and builds the ones
the original had here, with the maintenance memory a large build needs (the
dump would replay them at the server's default, 64 MB, on disk).
"""

from __future__ import annotations

from tenants.backup import BackupPart
from tenants.models import Tenant

from .indexes import INDEXED_DIMENSIONS, index_build, vector_index
from .tables import registered


def after_restore(tenant: Tenant, manifest: dict) -> None:
    """Inside the restored tenant's schema: the original's indexes, by name."""
    wanted = set(manifest.get("hnsw_indexes", []))
    for table in registered():
        for dimension in INDEXED_DIMENSIONS:
            if vector_index(table, dimension).name in wanted:
                index_build(table, dimension)


PART = BackupPart(name="vectors", after_restore=after_restore)
