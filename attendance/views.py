"""Portal pages: the live wall, the kiosk page, kiosks, groups, the record
with its corrections, reports."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from people.models import Person
from tenants.access import Action, denial, member_required, principal_for
from tenants.errors import ServiceError

from . import reports, selectors, services
from .forms import CorrectionAddForm, GroupForm, KioskForm, SessionForm


@member_required(Action.VIEW)
def wall(request):
    """Today's sessions, their members present, late or absent; the page
    reloads its body when a mark arrives on the tenant's events socket."""
    day = selectors.today()
    rows = reports.day_report(day=day)
    photos = {
        p.pk: p.photo.crop.name if p.photo else None
        for p in Person.objects.filter(pk__in={r.person_id for r in rows}).select_related("photo")
    }
    sections: dict[tuple[str, str], list] = {}
    for row in rows:
        sections.setdefault((row.group, row.session), []).append((row, photos.get(row.person_id)))
    context = {
        "day": day,
        "counts": reports.summary(rows),
        "sections": [
            {"group": group, "session": session, "rows": items}
            for (group, session), items in sections.items()
        ],
    }
    template = "attendance/_wall.html" if request.GET.get("partial") else "attendance/wall.html"
    return render(request, template, context)


def kiosk_page(request):
    """The page a kiosk (a tablet at the door) runs: no sign-in, the kiosk key
    is pasted once and kept in the browser (static/js/kiosk.js); it serves no
    tenant data until the key is accepted by the socket."""
    return render(request, "attendance/kiosk.html")


@never_cache  # the page may carry a new key
@member_required(Action.MANAGE, "Only owners and admins register kiosks.")
def kiosks(request):
    form = KioskForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        try:
            kiosk, new_key = services.kiosk_create(**form.kiosk_fields(), created_by=request.user)
        except ServiceError as exc:
            form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Registered {kiosk.name}.")
            form = KioskForm()
    return render(
        request,
        "attendance/kiosks.html",
        {
            "form": form,
            "kiosks": selectors.kiosk_list(),
            "new_key": new_key,
            "kiosk_url": request.build_absolute_uri("/attendance/kiosk/"),
        },
    )


def _kiosk_or_404(kiosk_id: int):
    kiosk = selectors.kiosk_get(kiosk_id=kiosk_id)
    if kiosk is None:
        raise Http404("No such kiosk.")
    return kiosk


@never_cache
@require_POST
@member_required(Action.MANAGE, "Only owners and admins manage kiosks.")
def kiosk_rotate(request, kiosk_id: int):
    kiosk = _kiosk_or_404(kiosk_id)
    key = services.kiosk_rotate_key(kiosk=kiosk)
    messages.success(request, f"{kiosk.name} has a new key; the old one no longer works.")
    return render(
        request,
        "attendance/kiosks.html",
        {
            "form": KioskForm(),
            "kiosks": selectors.kiosk_list(),
            "new_key": key,
            "kiosk_url": request.build_absolute_uri("/attendance/kiosk/"),
        },
    )


@require_POST
@member_required(Action.MANAGE, "Only owners and admins manage kiosks.")
def kiosk_revoke(request, kiosk_id: int):
    kiosk = services.kiosk_revoke(kiosk=_kiosk_or_404(kiosk_id))
    messages.success(request, f"{kiosk.name}'s key is revoked. Issue a new key to use it again.")
    return redirect("attendance-kiosks")


@member_required(Action.VIEW)
def groups(request):
    principal = principal_for(request)
    form = GroupForm(request.POST or None)
    if request.method == "POST":
        if not principal.may(Action.ADD):
            raise PermissionDenied(denial(Action.ADD))
        if form.is_valid():
            try:
                group = services.group_create(
                    name=form.cleaned_data["name"], members=form.cleaned_data["members"]
                )
            except ServiceError as exc:
                form.add_error(None, exc.detail)
            else:
                messages.success(request, f"Added the group {group.name}.")
                return redirect("attendance-group", group.pk)
    return render(
        request,
        "attendance/groups.html",
        {"groups": selectors.group_list(), "form": form, "can_add": principal.may(Action.ADD)},
    )


@member_required(Action.VIEW)
def group_detail(request, group_id: int):
    group = selectors.group_get(group_id=group_id)
    if group is None:
        raise Http404("No such group.")
    principal = principal_for(request)
    form = GroupForm(initial={"name": group.name, "members": group.members.all()})
    session_form = SessionForm()
    if request.method == "POST":
        if not principal.may(Action.CHANGE):
            raise PermissionDenied(denial(Action.CHANGE))
        try:
            if "starts_at" in request.POST:
                session_form = SessionForm(request.POST)
                if session_form.is_valid():
                    services.session_create(group=group, **session_form.session_fields())
                    messages.success(request, "Added the session.")
                    return redirect("attendance-group", group.pk)
            else:
                form = GroupForm(request.POST)
                if form.is_valid():
                    services.group_update(
                        group=group,
                        name=form.cleaned_data["name"],
                        members=form.cleaned_data["members"],
                    )
                    messages.success(request, f"Saved {group.name}.")
                    return redirect("attendance-group", group.pk)
        except ServiceError as exc:
            messages.error(request, exc.detail)
    return render(
        request,
        "attendance/group.html",
        {
            "group": group,
            "form": form,
            "session_form": session_form,
            "can_change": principal.may(Action.CHANGE),
        },
    )


def _day(request) -> dt.date:
    try:
        return dt.date.fromisoformat(request.GET.get("date", ""))
    except ValueError:
        return selectors.today()


@member_required(Action.VIEW)
def marks(request):
    """The day's record: every mark, removed ones too, with its corrections beside it."""
    day = _day(request)
    return render(
        request,
        "attendance/marks.html",
        {
            "day": day,
            "marks": selectors.mark_list(day=day, include_removed=True),
            "add_form": CorrectionAddForm(initial={"at": timezone.localtime()}),
            "can_change": principal_for(request).may(Action.CHANGE),
        },
    )


@require_POST
@member_required(Action.CHANGE, "Viewers cannot correct the record.")
def mark_remove(request, mark_id: int):
    mark = selectors.mark_get(mark_id=mark_id)
    if mark is None:
        raise Http404("No such mark.")
    try:
        services.correction_remove_mark(
            mark=mark, reason=request.POST.get("reason", ""), user=request.user
        )
    except ServiceError as exc:
        messages.error(request, f"Not removed: {exc.detail}")
    else:
        messages.success(request, f"Removed the mark of {mark.person.name}; the record keeps it.")
    day = timezone.localtime(mark.at).date().isoformat()
    return redirect(f"/attendance/marks/?date={day}")


@require_POST
@member_required(Action.CHANGE, "Viewers cannot correct the record.")
def mark_add(request):
    form = CorrectionAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the person, the time and say why.")
        return redirect("attendance-marks")
    at = form.cleaned_data["at"]
    try:
        services.correction_add_mark(
            person=form.cleaned_data["person"],
            at=at,
            reason=form.cleaned_data["reason"],
            user=request.user,
        )
    except ServiceError as exc:
        messages.error(request, f"Not added: {exc.detail}")
    else:
        messages.success(request, f"Added a mark for {form.cleaned_data['person'].name}.")
    return redirect(f"/attendance/marks/?date={timezone.localtime(at).date().isoformat()}")


@member_required(Action.VIEW)
def report(request):
    day = _day(request)
    group_id = request.GET.get("group")
    group_id = int(group_id) if group_id and group_id.isdigit() else None
    rows = reports.day_report(day=day, group_id=group_id)
    rates = reports.weekly_rates(until=selectors.today(), group_id=group_id)
    chart = {
        "labels": [r.week_start.isoformat() for r in rates],
        "rates": [round(r.rate * 100, 1) if r.rate is not None else None for r in rates],
    }
    query = f"date={day.isoformat()}" + (f"&group={group_id}" if group_id else "")
    return render(
        request,
        "attendance/report.html",
        {
            "day": day,
            "group_id": group_id,
            "groups": selectors.group_list(),
            "rows": rows,
            "counts": reports.summary(rows),
            "chart": chart,
            "query": query,
        },
    )
