"""What tenants upload and what the workers saw in it. Tenant schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from pgvector.django import VectorField

from recognition.models import FaceModel


class Source(models.TextChoices):
    WEB = "web", "Web upload"
    API = "api", "API"
    ZIP = "zip", "Zip import"
    WATCH = "watch", "Watch folder"


class IngestJob(models.Model):
    """One upload action (a file, a batch, a zip, a watch-folder sweep) and its progress."""

    source = models.CharField(max_length=10, choices=Source.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    total_files = models.PositiveIntegerField(default=0)
    done_files = models.PositiveIntegerField(default=0)
    failed_files = models.PositiveIntegerField(default=0)
    # Files refused before storage (bad type, zip-slip, ...): [{"name", "code", "reason"}].
    rejected = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Job {self.pk}"

    @property
    def finished_files(self) -> int:
        return self.done_files + self.failed_files

    @property
    def status(self) -> str:
        if self.total_files == 0:
            return "failed" if self.rejected else "done"
        if self.finished_files < self.total_files:
            return "processing"
        return "failed" if self.failed_files == self.total_files else "done"


class MediaFile(models.Model):
    class Kind(models.TextChoices):
        IMAGE = "image", "Photo"
        VIDEO = "video", "Video"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        PROCESSING = "processing", "Processing"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    job = models.ForeignKey(IngestJob, on_delete=models.SET_NULL, null=True, related_name="media")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    source = models.CharField(max_length=10, choices=Source.choices)
    original_name = models.CharField(max_length=255)
    # Server-generated name under the tenant's media prefix: originals/ab/<sha256>.<ext>.
    file = models.FileField(max_length=300)
    # A small JPEG for the library grid, written by processing.
    thumbnail = models.FileField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    mime = models.CharField(max_length=100)
    size_bytes = models.BigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_s = models.FloatField(null=True, blank=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    status_changed_at = models.DateTimeField(auto_now_add=True)
    error_code = models.CharField(max_length=40, blank=True)
    error = models.TextField(blank=True)
    # Deliveries of the processing task; committed before the heavy work, so a
    # worker killed by OOM or a crash still counts (the queue's own count does not).
    attempts = models.PositiveSmallIntegerField(default=0)
    face_model = models.ForeignKey(FaceModel, null=True, blank=True, on_delete=models.PROTECT)
    face_count = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "status_changed_at"]),
            models.Index(fields=["kind", "-created_at"]),
        ]

    def __str__(self) -> str:
        return self.original_name


class FaceTrack(models.Model):
    """One person's continuous presence in a video: many frames, one track."""

    media = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="tracks")
    ordinal = models.PositiveIntegerField()
    first_time_s = models.FloatField()
    last_time_s = models.FloatField()
    frame_count = models.PositiveIntegerField()

    class Meta:
        ordering = ["media", "first_time_s"]
        constraints = [
            models.UniqueConstraint(fields=["media", "ordinal"], name="one_track_per_ordinal")
        ]

    def __str__(self) -> str:
        span = f"{self.first_time_s:.1f}-{self.last_time_s:.1f} s"
        return f"Track {self.ordinal} of {self.media_id} ({span})"


class Face(models.Model):
    """A face found in a photo, or the best face of a video track."""

    media = models.ForeignKey(MediaFile, on_delete=models.CASCADE, related_name="faces")
    # Position of the face in its file's results: processing a file twice
    # cannot store a second set, the database refuses the duplicate ordinals.
    ordinal = models.PositiveIntegerField()
    track = models.OneToOneField(
        FaceTrack, null=True, blank=True, on_delete=models.CASCADE, related_name="best_face"
    )
    face_model = models.ForeignKey(FaceModel, on_delete=models.PROTECT)
    box_left = models.IntegerField()
    box_top = models.IntegerField()
    box_right = models.IntegerField()
    box_bottom = models.IntegerField()
    landmarks = models.JSONField()
    quality = models.FloatField()
    detector_score = models.FloatField()
    frame_time_s = models.FloatField(null=True, blank=True)
    crop = models.FileField(max_length=300)
    # Dimension varies by model (128 dlib, 512 ArcFace); partial HNSW indexes per
    # dimension (vectors.indexes, created by the migrations), and queries always
    # filter by face_model. Stored in the tenant's basis (vectors.basis).
    embedding = VectorField()

    class Meta:
        ordering = ["media", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["media", "ordinal"], name="one_face_per_ordinal"),
            models.CheckConstraint(
                condition=Q(box_right__gt=models.F("box_left"))
                & Q(box_bottom__gt=models.F("box_top")),
                name="face_box_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return f"Face {self.ordinal} of {self.media_id}"

    @property
    def box(self) -> tuple[int, int, int, int]:
        return (self.box_left, self.box_top, self.box_right, self.box_bottom)
