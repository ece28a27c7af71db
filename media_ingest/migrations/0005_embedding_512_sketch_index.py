from django.db import migrations

# 512-D embeddings are indexed by a 128-D sketch, their first 128 coordinates
# (engines emit them in a random orthonormal basis, recognition.engines.basis),
# and search re-ranks the sketch's shortlist on the full embedding. Why, with
# the measurements: search/indexes.py and docs/benchmarks.md. Same name as the
# index it replaces. Embeddings stored before this (none outside development)
# are in the model's own basis: re-run ingestion for them.
HALFVEC_512 = (
    "CREATE INDEX IF NOT EXISTS face_embedding_512_hnsw "
    "ON media_ingest_face USING hnsw ((embedding::halfvec(512)) halfvec_cosine_ops) "
    "WHERE vector_dims(embedding) = 512"
)
SKETCH_512 = (
    "CREATE INDEX IF NOT EXISTS face_embedding_512_hnsw "
    "ON media_ingest_face USING hnsw "
    "((subvector(embedding, 1, 128)::halfvec(128)) halfvec_cosine_ops) "
    "WHERE vector_dims(embedding) = 512"
)


class Migration(migrations.Migration):
    dependencies = [("media_ingest", "0004_embedding_512_halfvec_index")]

    operations = [
        migrations.RunSQL("DROP INDEX IF EXISTS face_embedding_512_hnsw", reverse_sql=HALFVEC_512),
        migrations.RunSQL(SKETCH_512, reverse_sql="DROP INDEX IF EXISTS face_embedding_512_hnsw"),
    ]
