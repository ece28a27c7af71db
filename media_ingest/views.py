"""Portal pages: library, upload, one file with its faces, face browser."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tenants.access import Action, member_required, principal_for

from . import selectors, services
from .annotations import face_names
from .api import immutable_jpeg
from .models import MediaFile, Source

PAGE_SIZE = 24
# The Faces page: a page of crops, a multiple of the 2 to 6 columns it shows.
FACES_PAGE_SIZE = 60
SORTS = [("newest", "Newest"), ("name", "Name"), ("faces", "Most faces")]


def thumbnail_version(media: MediaFile) -> str:
    """Changes whenever processing rewrites the thumbnail (same name, new bytes)."""
    stamp = media.processed_at or media.status_changed_at or media.created_at
    return f"{int(stamp.timestamp() * 1000):x}"


def thumbnail_url(media: MediaFile) -> str:
    """A content-addressed URL of the file's thumbnail ("" when it has none)."""
    if not media.thumbnail:
        return ""
    return reverse("media-thumbnail", args=[media.pk, thumbnail_version(media)])


def _tile(media: MediaFile) -> MediaFile:
    media.thumb_url = thumbnail_url(media)
    return media


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
    sort = request.GET.get("sort") if request.GET.get("sort") in selectors.MEDIA_ORDERS else ""
    name = request.GET.get("q", "").strip()[:100]
    media = selectors.media_list(
        kind=kind, status=status, name_contains=name, order=sort or "newest"
    )
    page = Paginator(media, PAGE_SIZE).get_page(request.GET.get("page"))
    for item in page.object_list:
        _tile(item)
    principal = principal_for(request)
    # New files appear live only where they would be listed: the first page,
    # newest first, with no filter they might not pass.
    live_insert = page.number == 1 and not (kind or status or name) and sort in ("", "newest")
    return render(
        request,
        "media_ingest/library.html",
        {
            "page": page,
            "kind": kind,
            "status": status,
            "sort": sort,
            "name": name,
            "filtered": bool(kind or status or name),
            "kinds": MediaFile.Kind.choices,
            "statuses": MediaFile.Status.choices,
            "sorts": SORTS,
            "can_upload": principal.may(Action.ADD),
            "can_delete": principal.may(Action.DELETE),
            "can_retry": principal.may(Action.CHANGE),
            "live_insert": live_insert,
            "query": _pager_query(request),
        },
    )


@require_GET
@member_required(Action.VIEW)
def media_tile(request, media_id: int):
    """One library tile, as the grid draws it: the page swaps it in when the
    file's status changes (static/js/media_live.js)."""
    media = selectors.media_get(media_id=media_id)
    if media is None:
        raise Http404("No such file.")
    principal = principal_for(request)
    return render(
        request,
        "media_ingest/_tile.html",
        {
            "media": _tile(media),
            "selectable": principal.may(Action.DELETE) or principal.may(Action.CHANGE),
        },
    )


@require_GET
@member_required(Action.VIEW)
def media_thumbnail(request, media_id: int, version: str):
    """The library thumbnail at a URL that changes with it: cached for a year.
    An old version's URL is sent to the current one."""
    media = selectors.media_get(media_id=media_id)
    if media is None or not media.thumbnail:
        raise Http404("No such thumbnail.")
    if version != thumbnail_version(media):
        return redirect(thumbnail_url(media))
    return immutable_jpeg(request, media.thumbnail.name)


def _back_to_library(request):
    target = request.POST.get("next", "")
    if target.startswith("/library/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}
    ):
        return redirect(target)
    return redirect("media-library")


@require_POST
@member_required(Action.CHANGE, "Viewers cannot retry files.")
def media_retry(request, media_id: int):
    media = selectors.media_get(media_id=media_id)
    if media is None:
        raise Http404("No such file.")
    if services.media_retry(media=media):
        messages.success(request, f"{media.original_name} is queued again.")
    else:
        messages.info(request, f"{media.original_name} had not failed: nothing to retry.")
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return redirect(target)
    return redirect("media-detail", media_id=media.pk)


@require_POST
@member_required(Action.VIEW)
def media_bulk(request):
    """One request for many files: delete them, or retry the failed ones.
    Each action keeps its own permission (delete: owners and admins; retry:
    operators too)."""
    action = request.POST.get("action")
    principal = principal_for(request)
    ids = [int(v) for v in request.POST.getlist("media") if v.isdigit()][:500]
    media = list(selectors.media_by_ids(media_ids=ids))
    if action == "delete":
        if not principal.may(Action.DELETE):
            raise PermissionDenied("Only owners and admins delete files.")
        for item in media:
            services.media_delete(media=item)
        messages.success(request, f"Deleted {len(media)} file{'s' if len(media) != 1 else ''}.")
    elif action == "retry":
        if not principal.may(Action.CHANGE):
            raise PermissionDenied("Viewers cannot retry files.")
        retried = services.media_retry_many(media=media)
        skipped = len(media) - retried
        note = f" ({skipped} had not failed)" if skipped else ""
        plural = "s" if retried != 1 else ""
        messages.success(request, f"Queued {retried} file{plural} again{note}.")
    else:
        raise Http404("No such action.")
    return _back_to_library(request)


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
    groups = selectors.track_groups(tracks=tracks, duration_s=media.duration_s) if tracks else []
    lanes: list[list] = [[] for _ in range(max((g.lane for g in groups), default=-1) + 1)]
    for group in groups:
        lanes[group.lane].append(group)
    can_label = bool(names) and principal.may(Action.CHANGE)
    return render(
        request,
        "media_ingest/media_detail.html",
        {
            "media": media,
            "faces": faces,
            "tracks": tracks,
            "groups": groups,
            "lanes": lanes,
            "timeline_end": max([media.duration_s or 0.0, *(t.last_time_s for t in tracks)]),
            "can_delete": principal.may(Action.DELETE),
            "can_retry": principal.may(Action.CHANGE),
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
    page = Paginator(faces, FACES_PAGE_SIZE).get_page(request.GET.get("page"))
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
