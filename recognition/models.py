"""The model registry (public schema): which engines and packs can embed faces.

Every stored embedding points to the FaceModel that produced it, and search
never compares embeddings of two models. Each tenant uses one active model.
"""

from django.db import models
from django.db.models import Q

from tenants.models import Tenant


class FaceModel(models.Model):
    class Engine(models.TextChoices):
        DLIB = "dlib", "dlib (built in)"
        INSIGHTFACE = "insightface", "InsightFace ONNX pack"

    name = models.CharField(max_length=100)
    version = models.CharField(max_length=100)
    engine = models.CharField(max_length=20, choices=Engine.choices)
    embedding_dim = models.PositiveIntegerField()
    # file name -> sha256 of every weight file, checked when the model is imported.
    weights = models.JSONField(default=dict)
    licence = models.TextField()
    # Pack directory under RECOGNITION["MODELS_DIR"]; empty for the built-in engine.
    path = models.CharField(max_length=500, blank=True)
    # The model tenants use until they choose another.
    is_default = models.BooleanField(default=False)
    # Cosine similarity above which two faces are taken for the same person
    # (search's default threshold); calibrated per model.
    match_threshold = models.FloatField(default=0.5)
    # Cosine similarity at which discovery (people.discovery) links two unknown
    # faces. Stricter than match_threshold: one wrong link can merge two people's
    # clusters, and a missed one only leaves a cluster to merge by hand.
    cluster_threshold = models.FloatField(default=0.5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="face_model_name_version"),
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="one_default_face_model"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.embedding_dim}-D, {self.get_engine_display()})"


class TenantFaceModel(models.Model):
    """A tenant's choice of model; tenants without a row use the default model."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="face_model_choice"
    )
    face_model = models.ForeignKey(FaceModel, on_delete=models.PROTECT, related_name="tenants")
    chosen_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.tenant}: {self.face_model}"
