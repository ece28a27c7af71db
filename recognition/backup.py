"""The tenant's choice of face model in a tenant archive (tenants.backup).

The choice lives in the public schema (TenantFaceModel), outside the dump of
the tenant's schema, so the archive carries it and a restore gives the new
tenant the same model: its faces were embedded by that one.
"""

from __future__ import annotations

from tenants.backup import BackupError, BackupPart
from tenants.models import Tenant

from .models import FaceModel, TenantFaceModel


def describe(tenant: Tenant) -> dict:
    choice = TenantFaceModel.objects.select_related("face_model").filter(tenant=tenant).first()
    if choice is None:
        return {"face_model": None}
    model = choice.face_model
    return {"face_model": {"id": model.pk, "name": model.name, "version": model.version}}


def restore(tenant: Tenant, data: dict) -> None:
    from .services import tenant_face_model_set

    wanted = data.get("face_model")
    if not wanted:
        return
    model = FaceModel.objects.filter(pk=wanted["id"], name=wanted["name"]).first()
    if model is None:
        raise BackupError(
            f"The archive's tenant used face model {wanted['name']} (id {wanted['id']}), "
            "which this platform does not have: import it first (`manage.py models import`)."
        )
    tenant_face_model_set(tenant=tenant, face_model=model)


PART = BackupPart(name="recognition", describe=describe, restore=restore)
