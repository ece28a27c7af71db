from django.core.paginator import Paginator
from django.shortcuts import render

from media_ingest.annotations import face_names
from media_ingest.models import MediaFile, Source
from recognition.selectors import active_face_model
from tenants.access import Action, member_required

from .models import SearchAudit
from .query import MAX_TOP_K
from .services import DEFAULT_TOP_K


@member_required(Action.VIEW)
def search_page(request):
    """The page posts to /api/v1/search/ and draws the results (static/js/search.js)."""
    model = active_face_model(tenant=request.tenant)
    return render(
        request,
        "search/search.html",
        {
            "model": model,
            "default_top_k": DEFAULT_TOP_K,
            "max_top_k": MAX_TOP_K,
            "kinds": MediaFile.Kind.choices,
            "sources": Source.choices,
            "face_id": request.GET.get("face_id", ""),
            "people": names.people_choices() if (names := face_names()) else [],
        },
    )


@member_required(Action.MANAGE, "Only owners and admins read the search log.")
def search_audit(request):
    audits = SearchAudit.objects.select_related("user", "face_model")
    page = Paginator(audits, 50).get_page(request.GET.get("page"))
    return render(request, "search/audit.html", {"page": page, "query": ""})
