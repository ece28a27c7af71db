"""What the vector layer stores of its own (tenant schema)."""

from django.db import models

from recognition.models import FaceModel


class EmbeddingBasis(models.Model):
    """The rotation in which this tenant stores a wide model's embeddings.

    Search indexes a wide embedding by its first coordinates (a sketch,
    ``vectors.indexes``). A rotation changes no cosine, so the tenant may keep
    its embeddings in any orthonormal basis; fitted to its own faces
    (principal axes first), the sketch keeps most of what tells faces apart.
    No row: the engine's own basis. ``vectors.basis`` applies and fits it, to
    every registered embedding table of the tenant at once.
    """

    face_model = models.OneToOneField(
        FaceModel, on_delete=models.PROTECT, related_name="tenant_basis"
    )
    # float32 (dim, dim), C order: stored = engine output @ rotation.
    rotation = models.BinaryField()
    fitted_at = models.DateTimeField(auto_now=True)
    sample_rows = models.PositiveIntegerField()  # faces the fit was computed from
    # Share of the sample's energy in the sketch's coordinates, before and after.
    sketch_energy_before = models.FloatField()
    sketch_energy = models.FloatField()

    class Meta:
        # Created by media_ingest (migration 0006) before this layer existed.
        db_table = "media_ingest_embeddingbasis"

    def __str__(self) -> str:
        return f"Basis of {self.face_model_id} fitted on {self.sample_rows} faces"
