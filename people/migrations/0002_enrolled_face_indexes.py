"""The enrolled faces' HNSW indexes, from the vector layer's definitions (the
same kinds as the catalogue's), and their embeddings stored inline."""

from django.db import migrations

from people.embeddings import ENROLLED_TABLE
from vectors.indexes import table_indexes

INDEXES = table_indexes(ENROLLED_TABLE)


class Migration(migrations.Migration):
    dependencies = [("people", "0001_initial")]

    operations = [
        migrations.RunSQL(
            [
                "ALTER TABLE people_enrolledface ALTER COLUMN embedding SET STORAGE PLAIN",
                *(index.create_sql() for index in INDEXES),
            ],
            reverse_sql=[f"DROP INDEX IF EXISTS {index.name}" for index in INDEXES],
        )
    ]
