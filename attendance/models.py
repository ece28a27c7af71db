"""Kiosks, groups and their sessions, marks and their corrections. Tenant schema."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import DateTimeRangeField, RangeOperators
from django.db import models
from django.db.models import Func, Q

from people.models import Person

from .conf import attendance_setting


def _default_cooldown() -> int:
    return attendance_setting("DEFAULT_COOLDOWN_MINUTES")


def _default_late_after() -> int:
    return attendance_setting("DEFAULT_LATE_AFTER_MINUTES")


class AttendanceSettings(models.Model):
    """The tenant's attendance choices: one row (``selectors.attendance_settings``)."""

    keep_mark_crops = models.BooleanField(
        default=False, help_text="Keep the face crop of every mark (shown beside the record)."
    )
    keep_unknown_faces = models.BooleanField(
        default=False, help_text="Keep crops of unrecognised faces for review (off by default)."
    )
    unknown_retention_days = models.PositiveIntegerField(
        default=7, help_text="Unrecognised faces are deleted after this many days."
    )

    class Meta:
        verbose_name_plural = "attendance settings"

    def __str__(self) -> str:
        return "Attendance settings"


class Group(models.Model):
    """A class, a team, a shift: people expected at its sessions."""

    name = models.CharField(max_length=200, unique=True)
    members = models.ManyToManyField(Person, blank=True, related_name="attendance_groups")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class Session(models.Model):
    """When a group meets: a time of day on some weekdays (0 Monday … 6 Sunday),
    between optional dates, with its lateness rule."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="sessions")
    name = models.CharField(max_length=200, blank=True)
    starts_at = models.TimeField()
    ends_at = models.TimeField()
    weekdays = models.JSONField(default=list)  # e.g. [0, 1, 2, 3, 4]
    late_after_minutes = models.PositiveIntegerField(default=_default_late_after)
    valid_from = models.DateField(null=True, blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return self.name or f"{self.starts_at:%H:%M}-{self.ends_at:%H:%M}"

    def occurs_on(self, day) -> bool:
        if day.weekday() not in self.weekdays:
            return False
        if self.valid_from and day < self.valid_from:
            return False
        return not (self.valid_until and day > self.valid_until)


class Kiosk(models.Model):
    """A camera at a door. It authenticates with its key (``Authorization: Kiosk
    <key>``), of which only a SHA-512 digest is kept; the key is shown once."""

    name = models.CharField(max_length=200)
    location = models.CharField(max_length=200, blank=True)
    cooldown_minutes = models.PositiveIntegerField(default=_default_cooldown)
    # No groups: a door log that marks any enrolled person of the tenant.
    groups = models.ManyToManyField(Group, blank=True, related_name="kiosks")
    opens_at = models.TimeField(null=True, blank=True)
    closes_at = models.TimeField(null=True, blank=True)
    key_digest = models.CharField(max_length=128, unique=True)
    key_prefix = models.CharField(max_length=8)  # shown to tell keys apart
    key_issued_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # The frame allowance's current window (attendance.throttles.count_frame).
    frames_window_started_at = models.DateTimeField(null=True, blank=True, editable=False)
    frames_in_window = models.PositiveIntegerField(default=0, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class Mark(models.Model):
    """A person seen at a kiosk (or added by a correction).

    ``scope`` names the kiosk's groups ("door" for a door log): kiosks serving
    the same groups share one cooldown. A kiosk mark holds its window
    ``[at, cooldown_until)``; the exclusion constraint refuses a second live
    mark of the same person and scope whose window overlaps, so two kiosks and
    two workers racing still write one. A removed mark stays, with its
    correction, and no longer blocks.
    """

    class Source(models.TextChoices):
        KIOSK = "kiosk", "Kiosk"
        CORRECTION = "correction", "Correction"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="attendance_marks")
    kiosk = models.ForeignKey(
        Kiosk, null=True, blank=True, on_delete=models.SET_NULL, related_name="marks"
    )
    source = models.CharField(max_length=12, choices=Source.choices, default=Source.KIOSK)
    scope = models.CharField(max_length=200)
    at = models.DateTimeField(db_index=True)
    cooldown_until = models.DateTimeField()
    similarity = models.FloatField(null=True, blank=True)
    crop = models.FileField(max_length=300, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["person", "at"])]
        constraints = [
            ExclusionConstraint(
                name="one_mark_per_person_scope_and_cooldown",
                expressions=[
                    ("person", RangeOperators.EQUAL),
                    ("scope", RangeOperators.EQUAL),
                    (TsTzRange("at", "cooldown_until"), RangeOperators.OVERLAPS),
                ],
                condition=Q(removed_at__isnull=True),
            ),
            models.CheckConstraint(
                condition=Q(cooldown_until__gte=models.F("at")), name="mark_window_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.person_id} at {self.at:%Y-%m-%d %H:%M}"


class Correction(models.Model):
    """An operator's change to the record: a missed mark added, or a wrong one
    removed; who, when, what and why. Never edited, never deleted."""

    class Kind(models.TextChoices):
        ADD = "add", "Added a missed mark"
        REMOVE = "remove", "Removed a wrong mark"

    kind = models.CharField(max_length=8, choices=Kind.choices)
    mark = models.ForeignKey(Mark, on_delete=models.CASCADE, related_name="corrections")
    reason = models.TextField()
    made_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    made_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-made_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} mark {self.mark_id}"


class UnknownFace(models.Model):
    """A face a kiosk saw that reached nobody's threshold: counted always; its
    crop kept for review only when the tenant keeps unknown faces, and deleted
    after the tenant's retention."""

    kiosk = models.ForeignKey(Kiosk, null=True, on_delete=models.SET_NULL, related_name="unknown")
    seen_at = models.DateTimeField(db_index=True)
    similarity = models.FloatField(null=True, blank=True)
    crop = models.FileField(max_length=300, blank=True)

    class Meta:
        ordering = ["-seen_at", "-id"]

    def __str__(self) -> str:
        return f"unknown at {self.seen_at:%Y-%m-%d %H:%M}"
