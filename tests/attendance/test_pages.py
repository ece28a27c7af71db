"""The portal's attendance pages: the wall, kiosks (the key shown once), groups."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from django_tenants.utils import schema_context

from attendance import services
from attendance.keys import key_digest
from attendance.models import Kiosk
from tests.attendance.conftest import make_kiosk, person_row


def test_the_wall_shows_todays_session_with_present_and_absent(alpha):
    ann, ben = person_row(alpha, "Ann"), person_row(alpha, "Ben")
    now = timezone.localtime()
    start = (now - dt.timedelta(minutes=5)).time().replace(second=0, microsecond=0)
    end = (now + dt.timedelta(minutes=30)).time().replace(second=0, microsecond=0)
    kiosk, _ = make_kiosk(alpha)
    with schema_context(alpha.schema_name):
        group = services.group_create(name="Morning shift", members=[ann, ben])
        if end > start:  # not across midnight
            services.session_create(
                group=group, starts_at=start, ends_at=end, weekdays=[now.weekday()],
                late_after_minutes=30,
            )  # fmt: skip
        services.mark_record(
            person_id=ann.pk, kiosk=kiosk, scope="door", at=timezone.now(), similarity=0.9
        )
    page = alpha.client(alpha.viewer).get("/attendance/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Ann" in text and 'data-status="present"' in text, text[text.index("<main>") :]
    if end > start:
        assert "Morning shift" in text and 'data-status="absent"' in text
    partial = alpha.client(alpha.viewer).get("/attendance/?partial=1").content.decode()
    assert "<html" not in partial and "Ann" in partial


def test_registering_a_kiosk_in_the_portal_shows_the_key_once(alpha):
    client = alpha.client(alpha.owner)
    page = client.post("/attendance/kiosks/", {"name": "Side door", "cooldown_minutes": "15"})
    assert page.status_code == 200
    text = page.content.decode()
    start = text.index("data-kiosk-key-value>") + len("data-kiosk-key-value>")
    key = text[start : text.index("</code>", start)]
    with schema_context(alpha.schema_name):
        kiosk = Kiosk.objects.get(name="Side door")
        assert kiosk.key_digest == key_digest(key) and kiosk.cooldown_minutes == 15
    assert key not in client.get("/attendance/kiosks/").content.decode()
    assert alpha.client(alpha.viewer).get("/attendance/kiosks/").status_code == 403


def test_the_kiosk_page_needs_no_sign_in_and_serves_no_data(alpha):
    person_row(alpha, "Secret Name")
    page = alpha.client().get("/attendance/kiosk/")
    assert page.status_code == 200
    assert b"Secret Name" not in page.content and b"kiosk.js" in page.content


def test_groups_pages(alpha):
    ann = person_row(alpha, "Ann")
    client = alpha.client(alpha.owner)
    created = client.post("/attendance/groups/", {"name": "Team A", "members": [ann.pk]})
    assert created.status_code == 302
    detail = created["Location"]
    added = client.post(detail, {"starts_at": "09:00", "ends_at": "10:00", "weekdays": ["0", "1"]})
    assert added.status_code == 302
    text = client.get(detail).content.decode()
    assert "09:00" in text and "Ann" in text
    viewer = alpha.client(alpha.viewer)
    assert viewer.get(detail).status_code == 200
    assert viewer.post(detail, {"name": "x"}).status_code == 403
