"""Portal pages: People to name (clusters, largest first) and one cluster."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenants.access import Action, member_required, principal_for
from tenants.errors import ServiceError

from .. import selectors as people_selectors
from ..models import ConsentBasis, Person
from . import selectors, services

PAGE_SIZE = 12
FACES_ON_LIST = 8


def _cluster_or_404(cluster_id: int):
    cluster = selectors.cluster_get(cluster_id=cluster_id)
    if cluster is None:
        raise Http404("No such cluster: it may have been named or merged meanwhile.")
    return cluster


@member_required(Action.VIEW)
def clusters_list(request):
    hidden = request.GET.get("hidden") == "1"
    page = Paginator(selectors.cluster_list(hidden=hidden), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    details = selectors.cluster_details(page.object_list, faces_per_cluster=FACES_ON_LIST)
    rows = [
        {
            "cluster": cluster,
            "faces": details[cluster.pk].face_ids[:FACES_ON_LIST],
            "more": max(cluster.size - FACES_ON_LIST, 0),
            "media_count": details[cluster.pk].media_count,
            "suggestion": details[cluster.pk].suggestion,
        }
        for cluster in page.object_list
    ]
    return render(
        request,
        "people/clusters.html",
        {
            "page": page,
            "rows": rows,
            "hidden": hidden,
            "query": "hidden=1&" if hidden else "",
            "counts": selectors.discovery_counts(),
            "can_change": principal_for(request).may(Action.CHANGE),
        },
    )


@member_required(Action.VIEW)
def cluster_detail(request, cluster_id: int):
    cluster = _cluster_or_404(cluster_id)
    details = selectors.cluster_details([cluster])[cluster.pk]
    faces = list(selectors.cluster_faces(cluster=cluster))
    others = selectors.cluster_list().exclude(pk=cluster.pk)[:50]
    return render(
        request,
        "people/cluster.html",
        {
            "cluster": cluster,
            "faces": faces,
            "media_count": details.media_count,
            "suggestion": details.suggestion,
            "people": Person.objects.order_by("name").only("name")[:500],
            "others": others,
            "consent_choices": ConsentBasis.choices,
            "can_change": principal_for(request).may(Action.CHANGE),
        },
    )


def _face_ids(request) -> list[int]:
    return [int(v) for v in request.POST.getlist("face") if v.isdigit()]


def _person(request, field: str) -> Person:
    value = request.POST.get(field, "")
    person = people_selectors.person_get(person_id=int(value)) if value.isdigit() else None
    if person is None:
        raise services.ClusterError("Choose a person.", "invalid")
    return person


def _name(request, cluster):
    if request.POST.get("person"):
        person = services.cluster_attach(
            cluster=cluster, person=_person(request, "person"), user=request.user
        )
    else:
        person = services.cluster_name(
            cluster=cluster,
            name=request.POST.get("name", ""),
            consent_basis=request.POST.get("consent_basis", ""),
            consent_note=request.POST.get("consent_note", ""),
            user=request.user,
        )
    messages.success(request, f"Named {person.name}: their faces are labelled and enrolled.")
    return redirect("person-detail", person.pk)


def _remove(request, cluster):
    left = services.cluster_remove_faces(
        cluster=cluster, face_ids=_face_ids(request), user=request.user
    )
    messages.success(request, "Removed: those faces will not be grouped with these again.")
    return redirect("cluster-detail", cluster.pk) if left else redirect("clusters-list")


def _split(request, cluster):
    new = services.cluster_split(cluster=cluster, face_ids=_face_ids(request), user=request.user)
    messages.success(
        request, "Split into two clusters." if new else "The face went back to the pool."
    )
    # A cluster left with one face dissolves: show what is left.
    for left in (cluster, new):
        if left is not None and selectors.cluster_get(cluster_id=left.pk) is not None:
            return redirect("cluster-detail", left.pk)
    return redirect("clusters-list")


def _merge(request, cluster):
    value = request.POST.get("other", "")
    other = selectors.cluster_get(cluster_id=int(value)) if value.isdigit() else None
    if other is None:
        raise services.ClusterError("Choose the cluster to merge into this one.", "invalid")
    services.cluster_merge(cluster=cluster, other=other, user=request.user)
    messages.success(request, f"Merged cluster {other.pk} into this one.")
    return redirect("cluster-detail", cluster.pk)


def _hide(request, cluster):
    hidden = request.POST.get("hidden", "1") == "1"
    services.cluster_hide(cluster=cluster, hidden=hidden)
    messages.success(request, "Hidden from People to name." if hidden else "Shown again.")
    return redirect("clusters-list")


def _reject(request, cluster):
    person = _person(request, "person")
    services.cluster_reject_suggestion(cluster=cluster, person=person, user=request.user)
    messages.success(request, f"Noted: these faces are not {person.name}.")
    if request.POST.get("back") == "list":
        return redirect("clusters-list")
    return redirect("cluster-detail", cluster.pk)


ACTIONS = {
    "name": _name,
    "remove": _remove,
    "split": _split,
    "merge": _merge,
    "hide": _hide,
    "reject": _reject,
}


@require_POST
@member_required(Action.CHANGE, "Viewers cannot name or change clusters.")
def cluster_action(request, cluster_id: int, verb: str):
    handler = ACTIONS.get(verb)
    if handler is None:
        raise Http404("No such action.")
    cluster = selectors.cluster_get(cluster_id=cluster_id)
    if cluster is None:  # a second click, or someone else was quicker
        messages.error(request, "That cluster was named, merged or emptied meanwhile.")
        return redirect("clusters-list")
    try:
        return handler(request, cluster)
    except ServiceError as exc:
        messages.error(request, exc.detail)
        if exc.code == "cluster-gone":  # named or merged by someone else, or a second click
            return redirect("clusters-list")
        return redirect("cluster-detail", cluster.pk)
