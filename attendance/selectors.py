"""Reads of attendance. Call inside the tenant's schema."""

from __future__ import annotations

import datetime as dt

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from people.models import Person

from .conf import attendance_setting
from .keys import key_digest
from .models import AttendanceSettings, Correction, Group, Kiosk, Mark, Session


def attendance_settings() -> AttendanceSettings:
    """The tenant's settings; the ATTENDANCE defaults until an owner saves some."""
    found = AttendanceSettings.objects.filter(pk=1).first()
    if found is not None:
        return found
    return AttendanceSettings(
        pk=1,
        keep_mark_crops=attendance_setting("KEEP_MARK_CROPS"),
        keep_unknown_faces=attendance_setting("KEEP_UNKNOWN_FACES"),
        unknown_retention_days=attendance_setting("UNKNOWN_RETENTION_DAYS"),
    )


def kiosk_for_key(key: str) -> Kiosk | None:
    """The live (not revoked) kiosk of this key in the current schema, or None."""
    if not key or len(key) > 200:
        return None
    return Kiosk.objects.filter(key_digest=key_digest(key), revoked_at__isnull=True).first()


def kiosk_live(kiosk_id: int, digest: str) -> Kiosk | None:
    """The kiosk, if the key it authenticated with still works."""
    return Kiosk.objects.filter(pk=kiosk_id, key_digest=digest, revoked_at__isnull=True).first()


def kiosk_list() -> QuerySet[Kiosk]:
    return Kiosk.objects.prefetch_related("groups")


def kiosk_get(*, kiosk_id: int) -> Kiosk | None:
    return kiosk_list().filter(pk=kiosk_id).first()


def kiosk_scope(kiosk: Kiosk) -> tuple[str, set[int] | None]:
    """The kiosk's cooldown scope and the people it may mark (None: anyone).

    Kiosks serving the same groups share a scope, so two doors of one class
    mark a person once per window; a kiosk without groups is the "door" log.
    """
    group_ids = sorted(kiosk.groups.values_list("pk", flat=True))
    if not group_ids:
        return "door", None
    members = set(
        Group.members.through.objects.filter(group_id__in=group_ids).values_list(
            "person_id", flat=True
        )
    )
    return "groups:" + ",".join(map(str, group_ids)), members


def group_list() -> QuerySet[Group]:
    return Group.objects.prefetch_related(
        Prefetch("members", queryset=Person.objects.only("id", "name")), "sessions"
    )


def group_get(*, group_id: int) -> Group | None:
    return group_list().filter(pk=group_id).first()


def session_list(*, group_id: int | None = None) -> QuerySet[Session]:
    sessions = Session.objects.select_related("group")
    if group_id is not None:
        sessions = sessions.filter(group_id=group_id)
    return sessions


def session_get(*, session_id: int) -> Session | None:
    return session_list().filter(pk=session_id).first()


def mark_list(
    *,
    day: dt.date | None = None,
    person_id: int | None = None,
    kiosk_id: int | None = None,
    group_id: int | None = None,
    include_removed: bool = False,
) -> QuerySet[Mark]:
    """The record, newest first, with each mark's corrections beside it."""
    marks = Mark.objects.select_related("person", "kiosk").prefetch_related(
        Prefetch("corrections", queryset=Correction.objects.select_related("made_by"))
    )
    if day is not None:
        start, end = day_bounds(day)
        marks = marks.filter(at__gte=start, at__lt=end)
    if person_id is not None:
        marks = marks.filter(person_id=person_id)
    if kiosk_id is not None:
        marks = marks.filter(kiosk_id=kiosk_id)
    if group_id is not None:
        marks = marks.filter(person__attendance_groups__id=group_id)
    if not include_removed:
        marks = marks.filter(removed_at__isnull=True)
    return marks


def mark_get(*, mark_id: int) -> Mark | None:
    return mark_list(include_removed=True).filter(pk=mark_id).first()


def correction_list() -> QuerySet[Correction]:
    return Correction.objects.select_related("mark__person", "made_by")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The day in the platform's time zone, as aware datetimes [start, end)."""
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)


def today() -> dt.date:
    return timezone.localdate()


def marks_today_count() -> int:
    start, end = day_bounds(today())
    return Mark.objects.filter(at__gte=start, at__lt=end, removed_at__isnull=True).count()
