"""People the tenant knows by name, their enrolled faces, and what the
catalogue's faces are labelled as. Tenant schema."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from pgvector.django import VectorField

from media_ingest.models import Face
from recognition.models import FaceModel


class ConsentBasis(models.TextChoices):
    """Why the tenant may process this person's face (GDPR art. 6 / 9 terms)."""

    CONSENT = "consent", "Consent"
    CONTRACT = "contract", "Contract"
    LEGITIMATE_INTEREST = "legitimate_interest", "Legitimate interest"
    PUBLIC_FIGURE = "public_figure", "Public figure"
    OTHER = "other", "Other (see note)"


class Person(models.Model):
    name = models.CharField(max_length=200)
    # The tenant's own reference (a staff or pupil number); unique when given.
    # NULL, not "", for none: the unique constraint ignores NULLs.
    external_id = models.CharField(max_length=100, null=True, blank=True)  # noqa: DJ001
    notes = models.TextField(blank=True)
    consent_basis = models.CharField(max_length=30, choices=ConsentBasis.choices)
    consent_note = models.TextField(blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    consent_recorded_at = models.DateTimeField()
    consent_document = models.FileField(max_length=300, blank=True)
    # The enrolled face shown for the person (their best one).
    photo = models.ForeignKey(
        "EnrolledFace", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = [Lower("name"), "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="person_external_id_unique",
            ),
            models.CheckConstraint(
                condition=~Q(consent_basis="other") | ~Q(consent_note=""),
                name="person_other_consent_has_a_note",
            ),
        ]
        indexes = [models.Index(fields=["name"])]

    def __str__(self) -> str:
        return self.name


class EnrolledFace(models.Model):
    """One face that says what a person looks like: its crop, quality and embedding.

    Embeddings are in the tenant's storage basis, like the catalogue's
    (``vectors.basis``): a face enrolled from the catalogue is copied as it is.
    """

    class Source(models.TextChoices):
        UPLOAD = "upload", "Uploaded photo"
        CATALOGUE = "catalogue", "Face in the library"
        WEBCAM = "webcam", "Webcam"
        CONFIRMED = "confirmed", "Confirmed label"

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="faces")
    face_model = models.ForeignKey(FaceModel, on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=12, choices=Source.choices)
    # The catalogue face it was taken from, if any (kept when that file is deleted).
    catalogue_face = models.ForeignKey(
        Face, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrolments"
    )
    box = models.JSONField()  # [left, top, right, bottom] in the source image
    quality = models.FloatField()
    crop = models.FileField(max_length=300)
    embedding = VectorField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-quality", "id"]
        indexes = [models.Index(fields=["person", "face_model"])]

    def __str__(self) -> str:
        return f"Face {self.pk} of {self.person_id}"


class FaceLabel(models.Model):
    """What a catalogue face is: suggested by matching, or confirmed by a member."""

    class Status(models.TextChoices):
        SUGGESTED = "suggested", "Suggested"
        CONFIRMED = "confirmed", "Confirmed"

    face = models.OneToOneField(Face, on_delete=models.CASCADE, related_name="label")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="labels")
    status = models.CharField(max_length=10, choices=Status.choices)
    similarity = models.FloatField(null=True, blank=True)  # of a suggestion
    labelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["person", "status"])]

    def __str__(self) -> str:
        return f"{self.face_id} is {self.person_id} ({self.status})"


class FaceRejection(models.Model):
    """ "This face is not that person": never proposed again, by anything."""

    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="rejections")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="rejections")
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["face", "person"], name="one_rejection_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.face_id} is not {self.person_id}"


class MatchThreshold(models.Model):
    """The tenant's threshold for naming a face with a model, calibrated from
    its own gallery (``people.calibration``)."""

    face_model = models.OneToOneField(FaceModel, on_delete=models.PROTECT, related_name="+")
    target_far = models.FloatField(default=0.001)
    threshold = models.FloatField()
    # What the calibration saw: None until it had enough people.
    estimated_far = models.FloatField(null=True, blank=True)
    people = models.PositiveIntegerField(default=0)
    impostor_scores = models.PositiveIntegerField(default=0)
    calibrated_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.face_model_id}: {self.threshold:.3f}"


class IdentifyAudit(models.Model):
    """Every identification: who asked, when, how many faces, what was answered.
    Never the image."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    face_model = models.ForeignKey(
        FaceModel, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    face_count = models.PositiveIntegerField()
    # [{"person_id": id | None, "similarity": s}] per face, in the answer's order.
    results = models.JSONField(default=list)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user} identified {self.face_count} faces at {self.created_at:%Y-%m-%d %H:%M}"


class IdentifyRejection(models.Model):
    """ "Not Alice" said on an identification's face, which is not in the library:
    the face's embedding (never the photo) is kept, so that identification and
    suggestions never propose that person for a face like it again."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identify_rejections")
    face_model = models.ForeignKey(FaceModel, on_delete=models.PROTECT, related_name="+")
    embedding = VectorField()
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"a face that is not {self.person_id}"


# ------------------------------------------------------------------ discovery


class FaceCluster(models.Model):
    """Unknown faces discovery grouped as one person, waiting for a name
    (people.discovery). Its members are catalogue faces (``ClusterFace``)."""

    face_model = models.ForeignKey(FaceModel, on_delete=models.PROTECT, related_name="+")
    # Members, and the sum of their (unit) embeddings: a face's mean similarity
    # to all the members is its dot product with the sum over the size, at no
    # cost per member. Kept by people.discovery on every change.
    size = models.PositiveIntegerField(default=0)
    embedding_sum = VectorField()
    # "Not interesting" (a crowd, a poster): not listed; like faces still join it.
    hidden = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-size", "id"]
        indexes = [models.Index(fields=["hidden", "-size", "id"], name="cluster_listing")]

    def __str__(self) -> str:
        return f"Cluster {self.pk} ({self.size} faces)"


class ClusterFace(models.Model):
    """A catalogue face in discovery: in a cluster, or pending (no cluster) until
    faces like it arrive. One row per face, so a face is never in two clusters."""

    face = models.OneToOneField(
        Face, primary_key=True, on_delete=models.CASCADE, related_name="discovery"
    )
    cluster = models.ForeignKey(
        FaceCluster, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    # The face of a deleted person whose faces were erased: never clustered again.
    kept_out = models.BooleanField(default=False)
    placed_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.face_id} in {self.cluster_id or 'the pool'}"


class CannotLink(models.Model):
    """ "Not the same person": these two faces are never in one cluster. Kept
    for good, through merges, splits and rebuilds. Stored once per pair, the
    lower face id first."""

    face = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(Face, on_delete=models.CASCADE, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["face", "other"], name="one_cannot_link_per_pair"),
            models.CheckConstraint(
                condition=Q(face__lt=models.F("other")), name="cannot_link_ordered"
            ),
        ]
        indexes = [models.Index(fields=["other"])]

    def __str__(self) -> str:
        return f"{self.face_id} is not {self.other_id}"
