"""EmbeddingBasis, moved from media_ingest: the state only, the table exists."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("media_ingest", "0007_embedding_basis_moves_to_vectors"),
        ("recognition", "0002_match_threshold"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="EmbeddingBasis",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("rotation", models.BinaryField()),
                        ("fitted_at", models.DateTimeField(auto_now=True)),
                        ("sample_rows", models.PositiveIntegerField()),
                        ("sketch_energy_before", models.FloatField()),
                        ("sketch_energy", models.FloatField()),
                        (
                            "face_model",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.PROTECT,
                                related_name="tenant_basis",
                                to="recognition.facemodel",
                            ),
                        ),
                    ],
                    options={"db_table": "media_ingest_embeddingbasis"},
                )
            ],
            database_operations=[],
        )
    ]
