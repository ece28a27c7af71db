from __future__ import annotations

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from tenants.models import Tenant

from .models import FaceModel, TenantFaceModel


def face_model_list() -> QuerySet[FaceModel]:
    return FaceModel.objects.annotate(tenant_count=Count("tenants")).order_by(
        "-is_default", "name", "version"
    )


def face_model_get(*, reference: str) -> FaceModel | None:
    """By id, by ``name`` (newest version) or by ``name:version``."""
    if reference.isdigit():
        return FaceModel.objects.filter(pk=int(reference)).first()
    name, _, version = reference.partition(":")
    models = FaceModel.objects.filter(name=name)
    if version:
        models = models.filter(version=version)
    return models.order_by("-created_at").first()


def active_face_model(*, tenant: Tenant) -> FaceModel:
    """The model that embeds and searches this tenant's faces: its choice, or
    the platform's default (one query; none after
    ``select_related("face_model_choice__face_model")``)."""
    if Tenant.face_model_choice.is_cached(tenant):
        choice = getattr(tenant, "face_model_choice", None)
        if choice is not None:
            return choice.face_model
        model = FaceModel.objects.filter(is_default=True).first()
    else:
        chosen = TenantFaceModel.objects.filter(tenant_id=tenant.pk, face_model_id=OuterRef("pk"))
        model = (
            FaceModel.objects.annotate(chosen=Exists(chosen))
            .filter(Q(chosen=True) | Q(is_default=True))
            .order_by("-chosen")
            .first()
        )
    if model is None:
        raise FaceModel.DoesNotExist(
            "No default face model is registered: run `manage.py models list` "
            "(it registers the built-in dlib model)."
        )
    return model


def current_face_model() -> FaceModel:
    """The active model of the tenant whose schema the connection is on.

    One query in a request (the tenant came with its domain), two in a task.
    """
    from tenants.selectors import current_tenant

    return active_face_model(tenant=current_tenant())
