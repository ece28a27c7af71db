"""Portal pages: library, upload, one file with its faces, face browser."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.access import Action, member_required, principal_for

from . import selectors, services
from .annotations import face_names
from .models import MediaFile, Source

PAGE_SIZE = 24


def _pager_query(request) -> str:
    """The current filters as a query-string prefix for page links."""
    params = {key: value for key, value in request.GET.items() if key != "page" and value}
    return urlencode(params) + "&" if params else ""


def _choice(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


@member_required(Action.VIEW)
def library(request):
    kind = request.GET.get("kind") if request.GET.get("kind") in MediaFile.Kind.values else None
    status = (
        request.GET.get("status") if request.GET.get("status") in MediaFile.Status.values else None
    )
    media = selectors.media_list(kind=kind, status=status)
    page = Paginator(media, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "media_ingest/library.html",
        {
            "page": page,
            "kind": kind,
            "status": status,
            "kinds": MediaFile.Kind.choices,
            "statuses": MediaFile.Status.choices,
            "can_upload": principal_for(request).may(Action.ADD),
            "query": _pager_query(request),
        },
    )


@member_required(Action.ADD, "Viewers cannot add files.")
def upload(request):
    return render(request, "media_ingest/upload.html", {"sources": Source})


@member_required(Action.VIEW)
def media_detail(request, media_id: int):
    media = selectors.media_get(media_id=media_id)
    if media is None:
        raise Http404("No such file.")
    faces = list(media.faces.all())
    tracks = list(media.tracks.all())
    principal = principal_for(request)
    names = face_names()
    labels = names.names(f.pk for f in faces) if names else {}
    for face in faces:
        face.name = labels.get(face.pk)  # None: no name (yet)
    for track in tracks:
        track.name = labels.get(track.best_face.pk) if track.best_face else None
    can_label = bool(names) and principal.may(Action.CHANGE)
    return render(
        request,
        "media_ingest/media_detail.html",
        {
            "media": media,
            "faces": faces,
            "tracks": tracks,
            "can_delete": principal.may(Action.DELETE),
            "can_label": can_label,
            "people": names.people_choices() if can_label else [],
        },
    )


@require_POST
@member_required(Action.DELETE, "Only owners and admins delete files.")
def media_delete(request, media_id: int):
    media = selectors.media_get(media_id=media_id)
    if media is None:
        raise Http404("No such file.")
    name = media.original_name
    services.media_delete(media=media)
    messages.success(request, f"Deleted {name} with its faces.")
    return redirect("media-library")


@member_required(Action.VIEW)
def face_browser(request):
    try:
        min_quality = float(request.GET.get("min_quality", 0))
    except ValueError:
        min_quality = 0.0
    names = face_names()
    person = request.GET.get("person", "")
    faces = selectors.face_list(min_quality=min_quality)
    if names is not None and person == "unknown":
        faces = faces.exclude(pk__in=names.named_face_ids())
    elif names is not None and person.isdigit():
        faces = faces.filter(pk__in=names.named_face_ids(int(person)))
    page = Paginator(faces, 48).get_page(request.GET.get("page"))
    labels = names.names(f.pk for f in page.object_list) if names else {}
    for face in page.object_list:
        face.name = labels.get(face.pk)
    return render(
        request,
        "media_ingest/faces.html",
        {
            "page": page,
            "min_quality": min_quality,
            "person": person,
            "people": names.people_choices() if names else [],
            "query": _pager_query(request),
        },
    )
