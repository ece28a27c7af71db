"""Writes of attendance: kiosks and their keys, groups and sessions, marks from
frames, corrections. Call inside the tenant's schema.

Marks are exactly once per person, kiosk scope and cooldown window by the
database (``Mark``'s exclusion constraint, the arbiter of the mark's INSERT),
not only by the check made first: two kiosks or two web processes racing on
one person write one mark, and the loser answers ``cooldown``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection, models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from media_ingest.query_photos import request_photo_pixels
from people.faces import crop_jpeg
from people.identify import identify_image
from people.models import Person
from tenants.events import close_credential_sockets, publish_event

from . import metrics
from .errors import AttendanceError, KioskClosed
from .keys import key_digest, key_prefix, new_key
from .models import AttendanceSettings, Correction, Group, Kiosk, Mark, Session, UnknownFace
from .selectors import attendance_settings, kiosk_scope

MARK_EVENT = "attendance.mark"
CORRECTION_EVENT = "attendance.correction"


# ------------------------------------------------------------------ kiosks


def _close_kiosk_sockets(kiosk: Kiosk, digest: str) -> None:
    schema = connection.schema_name
    transaction.on_commit(
        lambda: close_credential_sockets(schema_name=schema, kind="kiosk", key=digest),
        robust=True,
    )


def kiosk_create(
    *,
    name: str,
    location: str = "",
    cooldown_minutes: int | None = None,
    groups: list[Group] = (),
    opens_at: dt.time | None = None,
    closes_at: dt.time | None = None,
    created_by=None,
) -> tuple[Kiosk, str]:
    """The new kiosk and its key, which is not kept: show it once."""
    name = (name or "").strip()
    if not name:
        raise AttendanceError("A kiosk needs a name.", "name-required")
    _check_hours(opens_at, closes_at)
    key = new_key()
    kiosk = Kiosk(
        name=name,
        location=location.strip(),
        opens_at=opens_at,
        closes_at=closes_at,
        key_digest=key_digest(key),
        key_prefix=key_prefix(key),
        key_issued_at=timezone.now(),
        created_by=created_by if getattr(created_by, "pk", None) else None,
    )
    if cooldown_minutes is not None:
        kiosk.cooldown_minutes = cooldown_minutes
    with transaction.atomic():
        kiosk.save()
        kiosk.groups.set(groups)
    return kiosk, key


def _check_hours(opens_at, closes_at) -> None:
    if (opens_at is None) != (closes_at is None):
        raise AttendanceError("Give both opening and closing times, or neither.", "invalid-hours")


def kiosk_update(*, kiosk: Kiosk, groups: list[Group] | None = None, **changes) -> Kiosk:
    allowed = {"name", "location", "cooldown_minutes", "opens_at", "closes_at"}
    unknown = set(changes) - allowed
    if unknown:
        raise AttendanceError(f"Unknown kiosk fields: {sorted(unknown)}", "invalid")
    for key, value in changes.items():
        setattr(kiosk, key, value.strip() if isinstance(value, str) else value)
    _check_hours(kiosk.opens_at, kiosk.closes_at)
    with transaction.atomic():
        # Only what changed: a full save would put back the frame counters and
        # last-seen time as they were when the kiosk was read.
        if changes:
            kiosk.save(update_fields=list(changes))
        if groups is not None:
            kiosk.groups.set(groups)
    return kiosk


def kiosk_rotate_key(*, kiosk: Kiosk) -> str:
    """A new key for the kiosk; the old one stops working at once (its sockets close)."""
    old_digest = kiosk.key_digest
    key = new_key()
    kiosk.key_digest = key_digest(key)
    kiosk.key_prefix = key_prefix(key)
    kiosk.key_issued_at = timezone.now()
    kiosk.revoked_at = None
    kiosk.save(update_fields=["key_digest", "key_prefix", "key_issued_at", "revoked_at"])
    _close_kiosk_sockets(kiosk, old_digest)
    return key


def kiosk_revoke(*, kiosk: Kiosk) -> Kiosk:
    """The kiosk's key stops working at once; its marks stay. Rotate to use it again."""
    if kiosk.revoked_at is None:
        kiosk.revoked_at = timezone.now()
        kiosk.save(update_fields=["revoked_at"])
        _close_kiosk_sockets(kiosk, kiosk.key_digest)
    return kiosk


# ------------------------------------------------------------------ groups and sessions


def group_create(*, name: str, members: list[Person] = ()) -> Group:
    name = (name or "").strip()
    if not name:
        raise AttendanceError("A group needs a name.", "name-required")
    if Group.objects.filter(name=name).exists():
        raise AttendanceError(f"There is already a group called {name!r}.", "duplicate")
    with transaction.atomic():
        group = Group.objects.create(name=name)
        group.members.set(members)
    return group


def group_update(*, group: Group, name: str | None = None, members=None) -> Group:
    if name is not None:
        name = name.strip()
        if not name:
            raise AttendanceError("A group needs a name.", "name-required")
        if Group.objects.filter(name=name).exclude(pk=group.pk).exists():
            raise AttendanceError(f"There is already a group called {name!r}.", "duplicate")
        group.name = name
    with transaction.atomic():
        group.save()
        if members is not None:
            group.members.set(members)
    return group


def group_delete(*, group: Group) -> None:
    """Refused while kiosks serve the group: without it they would become door
    logs and mark anybody."""
    kiosks = list(group.kiosks.values_list("name", flat=True))
    if kiosks:
        raise AttendanceError(
            f"Kiosks serve this group ({', '.join(kiosks)}): change them first.",
            "group-in-use",
            http_status=409,
        )
    group.delete()


def _check_session(starts_at, ends_at, weekdays) -> list[int]:
    if starts_at is None or ends_at is None or ends_at <= starts_at:
        raise AttendanceError("A session ends after it starts (same day).", "invalid-times")
    days = sorted({int(d) for d in weekdays or []})
    if not days or any(d < 0 or d > 6 for d in days):
        raise AttendanceError(
            "Say on which weekdays the session runs: 0 (Monday) to 6 (Sunday).", "invalid-weekdays"
        )
    return days


def session_create(
    *,
    group: Group,
    starts_at: dt.time,
    ends_at: dt.time,
    weekdays: list[int],
    name: str = "",
    late_after_minutes: int | None = None,
    valid_from: dt.date | None = None,
    valid_until: dt.date | None = None,
) -> Session:
    session = Session(
        group=group,
        name=name.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        weekdays=_check_session(starts_at, ends_at, weekdays),
        valid_from=valid_from,
        valid_until=valid_until,
    )
    if late_after_minutes is not None:
        session.late_after_minutes = late_after_minutes
    session.save()
    return session


def session_update(*, session: Session, **changes) -> Session:
    for key, value in changes.items():
        setattr(session, key, value)
    session.weekdays = _check_session(session.starts_at, session.ends_at, session.weekdays)
    session.save()
    return session


def session_delete(*, session: Session) -> None:
    session.delete()


# ------------------------------------------------------------------ marks


@dataclass
class FrameMark:
    person_id: int
    name: str
    status: str  # "marked" | "cooldown" | "not-member"
    at: dt.datetime
    box: list[int]
    similarity: float
    mark_id: int | None = None


@dataclass
class FrameResult:
    marks: list[FrameMark] = field(default_factory=list)
    unknown: int = 0
    unknown_boxes: list[list[int]] = field(default_factory=list)
    elapsed_ms: float = 0.0


def is_open(kiosk: Kiosk, now: dt.datetime) -> bool:
    if kiosk.opens_at is None or kiosk.closes_at is None:
        return True
    local = timezone.localtime(now).time()
    if kiosk.opens_at <= kiosk.closes_at:
        return kiosk.opens_at <= local < kiosk.closes_at
    return local >= kiosk.opens_at or local < kiosk.closes_at  # open over midnight


def _save_crop(folder: str, image, box) -> str:
    return default_storage.save(
        f"attendance/{folder}/{uuid.uuid4().hex}.jpg", ContentFile(crop_jpeg(image, box))
    )


def mark_record(
    *, person_id: int, kiosk: Kiosk, scope: str, at: dt.datetime, similarity: float, crop=None
) -> tuple[str, Mark | None, dt.datetime]:
    """("marked", the new mark, its time) or ("cooldown", None, the time of the
    mark that holds the window).

    A person in front of a kiosk is in cooldown for every frame after the
    first, so the window is looked up first (one query). Otherwise the mark
    goes in with ``ON CONFLICT DO NOTHING`` against the exclusion constraint:
    of two kiosks or web processes inserting at once, PostgreSQL makes one
    wait for the other and the loser inserts nothing (a plain INSERT would
    deadlock there: each waits on the other's constraint check)."""
    held = _window_held(person_id, scope, at)
    if held is not None:
        return "cooldown", None, held
    mark = Mark(
        person_id=person_id,
        kiosk=kiosk,
        scope=scope,
        at=at,
        cooldown_until=at + dt.timedelta(minutes=kiosk.cooldown_minutes),
        similarity=similarity,
        crop=crop() if crop is not None else "",
    )
    mark.pk = _insert_unless_held(mark)
    if mark.pk is None:
        if mark.crop:
            default_storage.delete(mark.crop.name)
        return "cooldown", None, _window_held(person_id, scope, at) or at
    mark._state.adding, mark._state.db = False, connection.alias  # as save() leaves it
    return "marked", mark, at


def _window_held(person_id: int, scope: str, at: dt.datetime) -> dt.datetime | None:
    return (
        Mark.objects.filter(
            person_id=person_id,
            scope=scope,
            removed_at__isnull=True,
            at__lte=at,
            cooldown_until__gt=at,
        )
        .values_list("at", flat=True)
        .first()
    )


_MARK_COLUMNS = (
    "person_id",
    "kiosk_id",
    "source",
    "scope",
    "at",
    "cooldown_until",
    "similarity",
    "crop",
)


def _insert_unless_held(mark: Mark) -> int | None:
    """The new mark's id, or None when a live mark already holds the window."""
    values = [getattr(mark, column) for column in _MARK_COLUMNS]
    values[_MARK_COLUMNS.index("crop")] = mark.crop.name or ""
    sql = (
        f"INSERT INTO {Mark._meta.db_table} ({', '.join(_MARK_COLUMNS)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(_MARK_COLUMNS))}) ON CONFLICT DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    return row[0] if row else None


def frame_process(*, kiosk: Kiosk, frame: BinaryIO, now: dt.datetime | None = None) -> FrameResult:
    """Identify the faces of one camera frame and mark the people recognised.

    A kiosk with groups marks members of its groups only (another known
    person answers ``not-member``); a kiosk without groups is a door log and
    marks any enrolled person. Faces below the threshold are counted as
    unknown (and kept for review if the tenant says so).
    """
    now = now or timezone.now()
    if not is_open(kiosk, now):
        raise KioskClosed(
            f"{kiosk.name} is closed now (open {kiosk.opens_at:%H:%M} to {kiosk.closes_at:%H:%M}).",
            "kiosk-closed",
        )
    image = request_photo_pixels(frame)
    # One transaction for the frame's reads and writes: the nearest-face
    # search's settings need one anyway, and separate ones cost a BEGIN and a
    # COMMIT each.
    with transaction.atomic():
        result = _identify_and_mark(kiosk, image, now)
    metrics.frame_answered(result)
    return result


def _identify_and_mark(kiosk: Kiosk, image, now: dt.datetime) -> FrameResult:
    identification = identify_image(image, source="camera")
    tenant_settings = attendance_settings()
    result = FrameResult(elapsed_ms=identification.elapsed_ms)
    known = [a for a in identification.faces if a.person_id is not None]
    for answer in identification.faces:
        if answer.person_id is None:
            result.unknown += 1
            result.unknown_boxes.append(answer.box)
    if result.unknown:
        UnknownFace.objects.bulk_create(
            UnknownFace(
                kiosk=kiosk,
                seen_at=now,
                similarity=a.similarity,
                crop=_save_crop("unknown", image, a.box)
                if tenant_settings.keep_unknown_faces
                else "",
            )
            for a in identification.faces
            if a.person_id is None
        )
    if known:
        scope, allowed = kiosk_scope(kiosk)
        names = dict(
            Person.objects.filter(pk__in=[a.person_id for a in known]).values_list("pk", "name")
        )
        # In person order: two kiosks marking the same people in opposite orders
        # inside their frames' transactions would wait on each other.
        for answer in sorted(known, key=lambda a: a.person_id):
            base = dict(
                person_id=answer.person_id,
                name=names.get(answer.person_id, ""),
                box=answer.box,
                similarity=answer.similarity,
            )
            if allowed is not None and answer.person_id not in allowed:
                result.marks.append(FrameMark(status="not-member", at=now, **base))
                continue
            crop = (
                (lambda box=answer.box: _save_crop("marks", image, box))
                if tenant_settings.keep_mark_crops
                else None
            )
            status, mark, at = mark_record(
                person_id=answer.person_id,
                kiosk=kiosk,
                scope=scope,
                at=now,
                similarity=answer.similarity,
                crop=crop,
            )
            result.marks.append(
                FrameMark(status=status, at=at, mark_id=mark.pk if mark else None, **base)
            )
            if mark is not None:
                _publish_mark(mark, names.get(answer.person_id, ""), kiosk.name)
    return result


def _publish_mark(mark: Mark, name: str, where: str) -> None:
    publish_event(
        schema_name=connection.schema_name,
        kind=MARK_EVENT,
        data={
            "mark_id": mark.pk,
            "person_id": mark.person_id,
            "name": name,
            "at": mark.at.isoformat(),
            "message": f"{name} marked at {timezone.localtime(mark.at):%H:%M}"
            + (f" ({where})" if where else ""),
        },
    )


# ------------------------------------------------------------------ corrections


def correction_add_mark(*, person: Person, at: dt.datetime, reason: str, user) -> Correction:
    """A missed mark, added by an operator: a new mark (source "correction",
    holding no cooldown window) and its audit record."""
    reason = (reason or "").strip()
    if not reason:
        raise AttendanceError("Say why the mark is added.", "reason-required")
    if at > timezone.now() + dt.timedelta(minutes=1):
        raise AttendanceError("A mark cannot be added in the future.", "invalid-time")
    with transaction.atomic():
        mark = Mark.objects.create(
            person=person,
            kiosk=None,
            source=Mark.Source.CORRECTION,
            scope="correction",
            at=at,
            cooldown_until=at,  # an empty window: it blocks no kiosk mark
        )
        correction = Correction.objects.create(
            kind=Correction.Kind.ADD, mark=mark, reason=reason, made_by=_user(user)
        )
    _publish_correction(correction, person.name)
    return correction


def correction_remove_mark(*, mark: Mark, reason: str, user) -> Correction:
    """A wrong mark, removed: it stays in the record, marked removed, with who
    removed it and why; it no longer counts nor holds its cooldown window."""
    reason = (reason or "").strip()
    if not reason:
        raise AttendanceError("Say why the mark is removed.", "reason-required")
    with transaction.atomic():
        locked = Mark.objects.select_for_update().get(pk=mark.pk)
        if locked.removed_at is not None:
            raise AttendanceError(
                "This mark was already removed.", "already-removed", http_status=409
            )
        locked.removed_at = timezone.now()
        locked.save(update_fields=["removed_at"])
        correction = Correction.objects.create(
            kind=Correction.Kind.REMOVE, mark=locked, reason=reason, made_by=_user(user)
        )
    _publish_correction(correction, locked.person.name)
    return correction


def _user(user):
    return user if getattr(user, "pk", None) else None


def _publish_correction(correction: Correction, name: str) -> None:
    publish_event(
        schema_name=connection.schema_name,
        kind=CORRECTION_EVENT,
        data={
            "mark_id": correction.mark_id,
            "person_id": correction.mark.person_id,
            "correction": correction.kind,
            "message": f"Correction: {correction.get_kind_display().lower()} for {name}",
        },
    )


# ------------------------------------------------------------------ settings and retention


def attendance_settings_update(**changes) -> AttendanceSettings:
    record, _ = AttendanceSettings.objects.get_or_create(pk=1)
    for key, value in changes.items():
        setattr(record, key, value)
    record.save()
    return record


def unknown_faces_purge(*, now: dt.datetime | None = None) -> int:
    """Delete unrecognised faces (rows and crops) older than the tenant's retention."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=attendance_settings().unknown_retention_days)
    old = UnknownFace.objects.filter(seen_at__lt=cutoff)
    files = [name for name in old.values_list("crop", flat=True) if name]
    deleted, _ = old.delete()

    def remove_files() -> None:
        for name in files:
            default_storage.delete(name)

    transaction.on_commit(remove_files)
    return deleted


# ------------------------------------------------------------------ people merged


def marks_follow_merge(*, keep_id: int, other_id: int) -> None:
    """Two people were one: ``other``'s marks and group memberships become
    ``keep``'s. A mark of ``other`` inside a window ``keep`` already holds (the
    same person seen twice under two names) is removed, with a correction
    saying why, so the record stays one mark per window."""
    overlapping = Mark.objects.filter(
        person_id=other_id,
        removed_at__isnull=True,
        cooldown_until__gt=models.F("at"),
    ).filter(
        Exists(
            Mark.objects.filter(
                person_id=keep_id,
                removed_at__isnull=True,
                scope=OuterRef("scope"),
                at__lt=OuterRef("cooldown_until"),
                cooldown_until__gt=OuterRef("at"),
            )
        )
    )
    now = timezone.now()
    for mark in overlapping:
        mark.removed_at = now
        mark.save(update_fields=["removed_at"])
        Correction.objects.create(
            kind=Correction.Kind.REMOVE,
            mark=mark,
            reason=f"Merged into person {keep_id}: a second mark in the same cooldown window.",
        )
    Mark.objects.filter(person_id=other_id).update(person_id=keep_id)
    through = Group.members.through
    groups = set(through.objects.filter(person_id=keep_id).values_list("group_id", flat=True))
    through.objects.bulk_create(
        through(group_id=group_id, person_id=keep_id)
        for group_id in through.objects.filter(person_id=other_id).values_list(
            "group_id", flat=True
        )
        if group_id not in groups
    )


def on_person_merging(sender, keep_id: int, other_id: int, **kwargs) -> None:
    """people.signals.person_merging receiver."""
    marks_follow_merge(keep_id=keep_id, other_id=other_id)
