"""Reports: present, late and absent per session and member; first in, last
out; the door log; CSV and XLSX contents; the weekly rate."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone
from django_tenants.utils import schema_context

from attendance import reports, services
from attendance.models import Mark
from tests.attendance.conftest import at, make_kiosk, person_row

DAY = dt.date(2026, 11, 2)  # a Monday


@pytest.fixture
def school(alpha):
    """Class 1 (Ann, Ben, Cy) at 09:00-10:00 on weekdays, late after 10 min;
    Ann on time, Ben late, Cy absent; Dee (no group) at the door only."""
    ann, ben, cy, dee = (person_row(alpha, n) for n in ("Ann", "Ben", "Cy", "=Dee"))
    with schema_context(alpha.schema_name):
        group = services.group_create(name="Class 1", members=[ann, ben, cy])
        services.session_create(
            group=group, name="Maths", starts_at=dt.time(9), ends_at=dt.time(10),
            weekdays=[0, 1, 2, 3, 4], late_after_minutes=10,
        )  # fmt: skip
    class_kiosk, _ = make_kiosk(alpha, name="Class door", groups=[group])
    door, _ = make_kiosk(alpha, name="Main door")
    with schema_context(alpha.schema_name):
        for person, kiosk, when in [
            (ann, door, "08:40"), (ann, class_kiosk, "08:58"), (ann, door, "09:50"),
            (ben, class_kiosk, "09:25"), (cy, door, "07:00"), (dee, door, "12:00"),
        ]:  # fmt: skip
            services.mark_record(
                person_id=person.pk, kiosk=kiosk, scope=f"k{kiosk.pk}", at=at(DAY, when),
                similarity=0.9,
            )  # fmt: skip
        # A removed mark does not count: Cy's "wrong" mark in the session.
        _, wrong, _ = services.mark_record(
            person_id=cy.pk, kiosk=class_kiosk, scope="x", at=at(DAY, "09:05"), similarity=0.7
        )
        services.correction_remove_mark(mark=wrong, reason="not Cy", user=None)
    return {"group": group, "people": (ann, ben, cy, dee)}


def test_statuses_first_in_and_last_out(alpha, school):
    with schema_context(alpha.schema_name):
        rows = {r.person: r for r in reports.day_report(day=DAY)}
    assert rows["Ann"].status == "present"
    assert timezone.localtime(rows["Ann"].first_in).strftime("%H:%M") == "08:40"
    assert timezone.localtime(rows["Ann"].last_out).strftime("%H:%M") == "09:50"
    assert rows["Ben"].status == "late"
    assert rows["Cy"].status == "absent" and rows["Cy"].first_in is None
    assert rows["=Dee"].group == "" and rows["=Dee"].status == "present"
    with schema_context(alpha.schema_name):
        assert reports.summary(list(rows.values())) == {"present": 2, "late": 1, "absent": 1}
        # No session on Sunday: only the door log would show.
        assert reports.day_report(day=DAY - dt.timedelta(days=1)) == []


def test_the_csv_export(api, school):
    response = api.get(f"/api/v1/attendance/report/?date={DAY}&format=csv")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    table = list(csv.DictReader(io.StringIO(response.content.decode())))
    by_person = {row["person"]: row for row in table}
    assert by_person["Ann"]["status"] == "present" and by_person["Ann"]["first_in"] == "08:40:00"
    assert by_person["Ben"]["status"] == "late" and by_person["Ben"]["group"] == "Class 1"
    assert by_person["Cy"]["status"] == "absent" and by_person["Cy"]["first_in"] == ""
    assert "'=Dee" in by_person, "a name is never exported as a formula"


def test_the_xlsx_export_for_one_group(api, school):
    from openpyxl import load_workbook

    group = school["group"].pk
    response = api.get(f"/api/v1/attendance/report/?date={DAY}&group={group}&format=xlsx")
    assert response.status_code == 200, response.content
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(reports.COLUMNS)
    assert {(r[4], r[5]) for r in rows[1:]} == {
        ("Ann", "present"), ("Ben", "late"), ("Cy", "absent"),
    }  # fmt: skip


def test_the_json_report_and_bad_dates(api, school):
    body = api.get(f"/api/v1/attendance/report/?date={DAY}").json()
    assert body["counts"] == {"present": 2, "late": 1, "absent": 1}
    assert api.get("/api/v1/attendance/report/").json()["code"] == "invalid"
    assert api.get("/api/v1/attendance/report/?date=2026-13-01").status_code == 400
    assert api.get(f"/api/v1/attendance/report/?date={DAY}&group=999").status_code == 404


def test_weekly_rates(alpha, school):
    with schema_context(alpha.schema_name):
        rates = reports.weekly_rates(weeks=2, until=DAY + dt.timedelta(days=1))
    # This week: Monday 2 of 3 (Ann, Ben), Tuesday 0 of 3.
    assert rates[-1].week_start == DAY
    assert (rates[-1].expected, rates[-1].attended) == (6, 2)
    assert rates[0].expected == 15 and rates[0].attended == 0


def test_the_reports_page_renders_the_chart_data(alpha, school):
    page = alpha.client(alpha.owner).get(f"/attendance/report/?date={DAY}")
    assert page.status_code == 200
    text = page.content.decode()
    assert "rate-chart-data" in text and "vendor/chart.umd.min.js" in text
    with schema_context(alpha.schema_name):
        assert Mark.objects.count() == 7
