"""Who was there: per day, group and person; present, late or absent; first in
and last out; the attendance rate by week; CSV and XLSX. Call inside the
tenant's schema.

A member's status for one session comes from their live marks (removed ones
do not count) from ``ATTENDANCE["EARLY_MINUTES"]`` before it starts until it
ends, made at a kiosk serving the session's group, at a door-log kiosk (no
groups) or by a correction: present when the first is no later than the
session's lateness rule allows, late after, absent without one. People
marked on a day without a session of theirs are listed as the door log.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import defaultdict
from dataclasses import dataclass

from django.utils import timezone

from .conf import attendance_setting
from .models import Group, Kiosk, Mark, Session
from .selectors import day_bounds

PRESENT, LATE, ABSENT = "present", "late", "absent"
COLUMNS = ["date", "group", "session", "person_id", "person", "status", "first_in", "last_out"]


@dataclass(frozen=True)
class ReportRow:
    day: dt.date
    group: str
    session: str
    person_id: int
    person: str
    status: str
    first_in: dt.datetime | None
    last_out: dt.datetime | None

    def cells(self) -> list:
        def clock(value):
            return timezone.localtime(value).strftime("%H:%M:%S") if value else ""

        return [
            self.day.isoformat(), self.group, self.session, self.person_id, self.person,
            self.status, clock(self.first_in), clock(self.last_out),
        ]  # fmt: skip


@dataclass
class _Data:
    sessions: list[Session]
    members: dict[int, list[tuple[int, str]]]  # group id -> (person id, name)
    kiosk_groups: dict[int, set[int]]
    marks: dict[tuple[dt.date, int], list[tuple[dt.datetime, int | None]]]
    names: dict[int, str]


def _load(first: dt.date, last: dt.date, group_id: int | None, person_id: int | None) -> _Data:
    """Everything the report of these days needs, in a fixed number of queries."""
    sessions = Session.objects.select_related("group")
    groups = Group.objects.all()
    if group_id is not None:
        sessions = sessions.filter(group_id=group_id)
        groups = groups.filter(pk=group_id)
    members: dict[int, list[tuple[int, str]]] = defaultdict(list)
    through = Group.members.through.objects.filter(group__in=groups).select_related("person")
    if person_id is not None:
        through = through.filter(person_id=person_id)
    for row in through.order_by("person__name", "person_id"):
        members[row.group_id].append((row.person_id, row.person.name))
    kiosk_groups: dict[int, set[int]] = defaultdict(set)
    for kiosk_id, group in Kiosk.groups.through.objects.values_list("kiosk_id", "group_id"):
        kiosk_groups[kiosk_id].add(group)
    start, _ = day_bounds(first)
    _, end = day_bounds(last)
    marks_qs = Mark.objects.filter(at__gte=start, at__lt=end, removed_at__isnull=True)
    if person_id is not None:
        marks_qs = marks_qs.filter(person_id=person_id)
    marks: dict[tuple[dt.date, int], list] = defaultdict(list)
    names: dict[int, str] = {}
    for person, name, at, kiosk_id in marks_qs.order_by("at").values_list(
        "person_id", "person__name", "at", "kiosk_id"
    ):
        marks[(timezone.localtime(at).date(), person)].append((at, kiosk_id))
        names[person] = name
    return _Data(list(sessions), members, kiosk_groups, marks, names)


def _counts_for(kiosk_id: int | None, group_id: int, kiosk_groups) -> bool:
    if kiosk_id is None:  # a correction
        return True
    served = kiosk_groups.get(kiosk_id, set())
    return not served or group_id in served


def _day_rows(day: dt.date, data: _Data, *, door_log: bool) -> list[ReportRow]:
    tz = timezone.get_current_timezone()
    early = dt.timedelta(minutes=attendance_setting("EARLY_MINUTES"))
    rows: list[ReportRow] = []
    seen: set[int] = set()
    for session in data.sessions:
        if not session.occurs_on(day):
            continue
        begins = dt.datetime.combine(day, session.starts_at, tzinfo=tz)
        ends = dt.datetime.combine(day, session.ends_at, tzinfo=tz)
        late_after = begins + dt.timedelta(minutes=session.late_after_minutes)
        for person_id, name in data.members.get(session.group_id, []):
            times = [
                at
                for at, kiosk_id in data.marks.get((day, person_id), [])
                if begins - early <= at <= ends
                and _counts_for(kiosk_id, session.group_id, data.kiosk_groups)
            ]
            status = ABSENT if not times else PRESENT if times[0] <= late_after else LATE
            seen.add(person_id)
            rows.append(
                ReportRow(
                    day,
                    session.group.name,
                    str(session),
                    person_id,
                    name,
                    status,
                    times[0] if times else None,
                    times[-1] if times else None,
                )
            )
    if door_log:
        for (mark_day, person_id), marks in sorted(data.marks.items(), key=lambda i: i[0][1]):
            if mark_day == day and person_id not in seen:
                rows.append(
                    ReportRow(
                        day,
                        "",
                        "",
                        person_id,
                        data.names[person_id],
                        PRESENT,
                        marks[0][0],
                        marks[-1][0],
                    )
                )
    return rows


def day_report(
    *, day: dt.date, group_id: int | None = None, person_id: int | None = None
) -> list[ReportRow]:
    """The day's rows: each session's members with their status, then (without
    a group filter) the door log of people marked outside any session of theirs."""
    data = _load(day, day, group_id, person_id)
    return _day_rows(day, data, door_log=group_id is None)


def summary(rows: list[ReportRow]) -> dict[str, int]:
    counts = {PRESENT: 0, LATE: 0, ABSENT: 0}
    for row in rows:
        counts[row.status] += 1
    return counts


@dataclass(frozen=True)
class WeekRate:
    week_start: dt.date
    expected: int  # member-sessions
    attended: int  # present or late

    @property
    def rate(self) -> float | None:
        return round(self.attended / self.expected, 4) if self.expected else None


def weekly_rates(
    *, weeks: int | None = None, until: dt.date | None = None, group_id: int | None = None
) -> list[WeekRate]:
    """The attendance rate (present or late / expected) of each of the last
    ``weeks`` weeks (Monday first), up to ``until`` (today)."""
    until = until or timezone.localdate()
    weeks = weeks or attendance_setting("REPORT_WEEKS")
    first = until - dt.timedelta(days=until.weekday()) - dt.timedelta(weeks=weeks - 1)
    data = _load(first, until, group_id, None)
    rates = []
    for week in range(weeks):
        start = first + dt.timedelta(weeks=week)
        expected = attended = 0
        for offset in range(7):
            day = start + dt.timedelta(days=offset)
            if day > until:
                break
            for row in _day_rows(day, data, door_log=False):
                expected += 1
                attended += row.status != ABSENT
        rates.append(WeekRate(start, expected, attended))
    return rates


def as_csv(rows: list[ReportRow]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_safe_cell(c) for c in row.cells()])
    return out.getvalue().encode("utf-8")


def as_xlsx(rows: list[ReportRow], *, title: str) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = title[:31]
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([_safe_cell(c) for c in row.cells()])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe_cell(value):
    """Names typed by people must not become spreadsheet formulas (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
