"""The catalogue's faces as an embedding table of the vector layer."""

from vectors.tables import EmbeddingTable

# Searches return the face's media and track beside its id.
FACE_TABLE = EmbeddingTable(
    table="media_ingest_face", index_prefix="face", carried=("media_id", "track_id")
)
