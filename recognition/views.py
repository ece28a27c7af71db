from django.contrib import messages
from django.shortcuts import redirect, render

from tenants.access import Action, member_required

from . import selectors, services


@member_required(Action.MANAGE, "Only owners and admins choose the recognition model.")
def recognition_model(request):
    """Owners and admins choose which registered model embeds their tenant's faces."""
    tenant = request.tenant
    models = list(selectors.face_model_list())
    if request.method == "POST":
        chosen = next((m for m in models if str(m.pk) == request.POST.get("face_model")), None)
        if chosen is None:
            messages.error(request, "Choose one of the registered models.")
        else:
            services.tenant_face_model_set(tenant=tenant, face_model=chosen)
            messages.success(request, f"{tenant.name} now uses {chosen.label}.")
            return redirect("recognition-model")
    active = selectors.active_face_model(tenant=tenant) if models else None
    return render(request, "recognition/model.html", {"face_models": models, "active": active})
