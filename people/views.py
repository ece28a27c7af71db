"""Portal pages: People, a person, "Who is this?", the identification log."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from media_ingest import selectors as catalogue
from recognition.selectors import current_face_model
from tenants.access import Action, member_required, principal_for
from tenants.errors import ServiceError

from . import selectors, services
from .calibration import current_threshold
from .forms import MergeForm, PersonForm
from .models import IdentifyAudit, Person

PAGE_SIZE = 24


def _person_or_404(person_id: int) -> Person:
    person = selectors.person_get(person_id=person_id)
    if person is None:
        raise Http404("No such person.")
    return person


@member_required(Action.VIEW)
def people_list(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(selectors.person_list(query=query), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "people/list.html",
        {
            "page": page,
            "q": query,
            "query": urlencode({"q": query}) + "&" if query else "",
            "can_add": principal_for(request).may(Action.ADD),
        },
    )


@member_required(Action.ADD, "Viewers cannot add people.")
def person_new(request):
    form = PersonForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.person_create(
                **form.person_fields(),
                recorded_by=request.user,
                consent_document=form.cleaned_data.get("consent_document"),
            )
        except ServiceError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Added {person.name}. Now enrol a few photos of them.")
            return redirect("person-detail", person.pk)
    return render(request, "people/form.html", {"form": form, "person": None})


@member_required(Action.CHANGE, "Viewers cannot change people.")
def person_edit(request, person_id: int):
    person = _person_or_404(person_id)
    form = PersonForm(request.POST or None, request.FILES or None, instance=person)
    if request.method == "POST" and form.is_valid():
        try:
            services.person_update(person=person, recorded_by=request.user, **form.person_fields())
            if form.cleaned_data.get("consent_document"):
                services.person_attach_consent_document(
                    person=person, document=form.cleaned_data["consent_document"]
                )
        except ServiceError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Saved {person.name}.")
            return redirect("person-detail", person.pk)
    return render(request, "people/form.html", {"form": form, "person": person})


@member_required(Action.VIEW)
def person_detail(request, person_id: int):
    person = _person_or_404(person_id)
    principal = principal_for(request)
    appearances = Paginator(selectors.appearances(person=person), 48).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "people/detail.html",
        {
            "person": person,
            "faces": selectors.enrolled_faces(person=person),
            "appearances": [selectors.as_appearance(label) for label in appearances],
            "page": appearances,
            "query": "",
            "merge_form": MergeForm(exclude=person),
            "can_change": principal.may(Action.CHANGE),
            "can_delete": principal.may(Action.DELETE),
        },
    )


@require_POST
@member_required(Action.ADD, "Viewers cannot enrol faces.")
def person_enrol(request, person_id: int):
    person = _person_or_404(person_id)
    photo = request.FILES.get("photo")
    if photo is None:
        messages.error(request, "Choose a photo to enrol.")
        return redirect("person-detail", person.pk)
    try:
        services.enrol_from_photo(person=person, photo=photo, user=request.user)
    except ServiceError as exc:
        messages.error(request, f"Not enrolled: {exc.detail}")
    else:
        messages.success(request, "Enrolled the face. The library is being matched.")
    return redirect("person-detail", person.pk)


@require_POST
@member_required(Action.CHANGE, "Viewers cannot merge people.")
def person_merge(request, person_id: int):
    person = _person_or_404(person_id)
    form = MergeForm(request.POST, exclude=person)
    if form.is_valid():
        other = form.cleaned_data["other"]
        services.people_merge(keep=person, other=other)
        messages.success(request, f"Merged {other.name} into {person.name}.")
    else:
        messages.error(request, "Choose the person to merge into this one.")
    return redirect("person-detail", person.pk)


@require_POST
@member_required(Action.DELETE, "Only owners and admins delete people.")
def person_delete(request, person_id: int):
    person = _person_or_404(person_id)
    name = person.name
    erase = request.POST.get("erase") == "1"
    services.person_delete(person=person, erase=erase)
    messages.success(
        request,
        f"Deleted {name}, their enrolled faces and labels."
        + (" Their faces in the library stay unnamed for good." if erase else ""),
    )
    return redirect("people-list")


@require_POST
@member_required(Action.DELETE, "Only owners and admins remove enrolled faces.")
def enrolled_face_delete(request, person_id: int, face_id: int):
    person = _person_or_404(person_id)
    enrolled = selectors.enrolled_face_get(person=person, face_id=face_id)
    if enrolled is None:
        raise Http404("No such enrolled face.")
    services.enrolled_face_delete(enrolled=enrolled)
    messages.success(request, "Removed the face from the gallery.")
    return redirect("person-detail", person.pk)


@require_POST
@member_required(Action.CHANGE, "Viewers cannot label faces.")
def face_label(request, face_id: int):
    """The media page's "this is ..." / "not ..." on a catalogue face."""
    face = catalogue.face_get(face_id=face_id)
    if face is None:
        raise Http404("No such face.")
    back = request.POST.get("next") or "/"
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    try:
        if request.POST.get("not_person"):
            person = _person_or_404(int(request.POST["not_person"]))
            services.face_reject(face=face, person=person, user=request.user)
            messages.success(request, f"Noted: that face is not {person.name}.")
        else:
            person = _person_or_404(int(request.POST.get("person") or 0))
            services.face_confirm(
                face=face, person=person, user=request.user, enrol=bool(request.POST.get("enrol"))
            )
            messages.success(request, f"Labelled as {person.name}.")
    except (ValueError, ServiceError) as exc:
        messages.error(request, getattr(exc, "detail", "Choose a person."))
    return redirect(back)


@member_required(Action.VIEW)
def identify(request):
    """The page posts to /api/v1/identify/ and draws the answer (static/js/identify.js)."""
    model = current_face_model()
    can_enrol = principal_for(request).may(Action.ADD)
    people = (
        [{"id": p.pk, "name": p.name} for p in Person.objects.order_by("name")] if can_enrol else []
    )
    return render(
        request,
        "people/identify.html",
        {"model": model, "threshold": current_threshold(model), "people": people},
    )


@member_required(Action.MANAGE, "Only owners and admins read the identification log.")
def identify_audit(request):
    audits = IdentifyAudit.objects.select_related("user", "face_model")
    page = Paginator(audits, 50).get_page(request.GET.get("page"))
    return render(request, "people/audit.html", {"page": page, "query": ""})


TARGET_FARS = (0.01, 0.001, 0.0001)


@member_required(Action.MANAGE, "Only owners and admins set the identification threshold.")
def threshold_settings(request):
    """The tenant's identification threshold: the target false-accept rate the
    owner picks, and what calibration on the gallery made of it."""
    from .calibration import calibrate

    model = current_face_model()
    if request.method == "POST":
        try:
            target = float(request.POST.get("target_far", ""))
        except ValueError:
            target = 0.0
        if target not in TARGET_FARS:
            messages.error(request, "Choose one of the offered rates.")
        else:
            record = calibrate(model, target_far=target)
            messages.success(request, f"Recalibrated: the threshold is now {record.threshold:.3f}.")
            return redirect("people-threshold")
    return render(
        request,
        "people/threshold.html",
        {"model": model, "threshold": current_threshold(model), "targets": TARGET_FARS},
    )
