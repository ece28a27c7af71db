"""The search audit log (tenant schema): faces are biometric data, so every
search is recorded (who, when, options, how many results; never the image)."""

from django.conf import settings
from django.db import models

from recognition.models import FaceModel


class SearchAudit(models.Model):
    class QueryKind(models.TextChoices):
        IMAGE = "image", "Uploaded photo"
        FACE = "face", "Stored face"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    query_kind = models.CharField(max_length=10, choices=QueryKind.choices)
    # The stored face searched from (no image is ever kept for uploaded photos).
    query_face_id = models.BigIntegerField(null=True, blank=True)
    face_model = models.ForeignKey(FaceModel, null=True, on_delete=models.SET_NULL)
    options = models.JSONField(default=dict)
    result_count = models.PositiveIntegerField()
    served_from_cache = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return (
            f"{self.user} searched at {self.created_at:%Y-%m-%d %H:%M}: {self.result_count} results"
        )
