"""One mark per person, kiosk scope and cooldown window: by the database, even
when two kiosks and two processes race."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context

from attendance import services
from attendance.models import Mark
from tests.attendance.conftest import make_kiosk, person_row


def test_the_constraint_refuses_an_overlapping_mark_the_check_did_not_see(alpha):
    person = person_row(alpha, "Ann")
    kiosk, _ = make_kiosk(alpha)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        Mark.objects.create(
            person=person, kiosk=kiosk, scope="door", at=now,
            cooldown_until=now + dt.timedelta(minutes=10),
        )  # fmt: skip
        with pytest.raises(IntegrityError), transaction.atomic():
            Mark.objects.create(
                person=person, kiosk=kiosk, scope="door", at=now + dt.timedelta(minutes=3),
                cooldown_until=now + dt.timedelta(minutes=13),
            )  # fmt: skip
        # Another scope, or after the window, is a new mark.
        Mark.objects.create(
            person=person, kiosk=kiosk, scope="groups:1", at=now,
            cooldown_until=now + dt.timedelta(minutes=10),
        )  # fmt: skip
        status, mark, _ = services.mark_record(
            person_id=person.pk, kiosk=kiosk, scope="door",
            at=now + dt.timedelta(minutes=10), similarity=0.9,
        )  # fmt: skip
        assert status == "marked" and mark is not None


def test_within_the_window_the_answer_is_cooldown_and_after_it_a_new_mark(alpha):
    person = person_row(alpha, "Ann")
    kiosk, _ = make_kiosk(alpha, cooldown_minutes=5)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        record = dict(person_id=person.pk, kiosk=kiosk, scope="door", similarity=0.9)
        assert services.mark_record(at=now, **record)[0] == "marked"
        status, _, held = services.mark_record(at=now + dt.timedelta(minutes=4), **record)
        assert status == "cooldown" and held == now
        assert services.mark_record(at=now + dt.timedelta(minutes=5), **record)[0] == "marked"
        assert Mark.objects.count() == 2


def test_a_removed_mark_no_longer_holds_its_window(alpha):
    person = person_row(alpha, "Ann")
    kiosk, _ = make_kiosk(alpha)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        record = dict(person_id=person.pk, kiosk=kiosk, scope="door", similarity=0.9)
        _, mark, _ = services.mark_record(at=now, **record)
        services.correction_remove_mark(mark=mark, reason="it was her sister", user=None)
        assert services.mark_record(at=now + dt.timedelta(minutes=1), **record)[0] == "marked"


def test_two_kiosks_racing_in_two_connections_write_one_mark(committed):
    """Two threads (two database connections, as two web processes have) mark
    the same person at once, both past the check: the constraint keeps one."""
    from tests.conftest import ALPHA

    person = person_row(ALPHA, "Racer")
    first, _ = make_kiosk(ALPHA, name="Door A")
    second, _ = make_kiosk(ALPHA, name="Door B")
    now = timezone.now()
    barrier = threading.Barrier(2)
    answers = []

    def mark(kiosk):
        try:
            with schema_context(ALPHA.schema_name), transaction.atomic():
                # Both pass the check before either inserts.
                assert not Mark.objects.filter(person=person).exists()
                barrier.wait(timeout=10)
                answers.append(
                    services.mark_record(
                        person_id=person.pk, kiosk=kiosk, scope="door", at=now, similarity=0.9
                    )[0]
                )
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=mark, args=(k,)) for k in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(answers) == ["cooldown", "marked"]
        with schema_context(ALPHA.schema_name):
            assert Mark.objects.filter(person=person).count() == 1
    finally:
        with schema_context(ALPHA.schema_name):
            Mark.objects.all().delete()
            from attendance.models import Kiosk
            from people.models import Person

            Kiosk.objects.all().delete()
            Person.objects.filter(pk=person.pk).delete()


def test_merging_two_people_keeps_the_marks_once_per_window(alpha):
    from attendance.models import Correction, Group
    from people.services import people_merge

    ann, twin = person_row(alpha, "Ann"), person_row(alpha, "Ann (twin record)")
    kiosk, _ = make_kiosk(alpha)
    now = timezone.now()
    with schema_context(alpha.schema_name):
        group = services.group_create(name="Class 1", members=[twin])
        record = dict(kiosk=kiosk, scope="door", similarity=0.9)
        services.mark_record(person_id=ann.pk, at=now, **record)
        services.mark_record(person_id=twin.pk, at=now + dt.timedelta(minutes=2), **record)
        services.mark_record(person_id=twin.pk, at=now + dt.timedelta(hours=2), **record)
        people_merge(keep=ann, other=twin)
        marks = list(Mark.objects.filter(person=ann).order_by("at"))
        assert len(marks) == 3
        assert [m.removed_at is not None for m in marks] == [False, True, False]
        assert Correction.objects.get().mark == marks[1]
        assert list(Group.objects.get(pk=group.pk).members.all()) == [ann]
