"""EmbeddingBasis moves to the vectors app; its table stays where it is."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("media_ingest", "0006_embedding_basis")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="EmbeddingBasis")],
            database_operations=[],
        )
    ]
