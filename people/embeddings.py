"""People's enrolled faces as an embedding table of the vector layer."""

from vectors.tables import EmbeddingTable

ENROLLED_TABLE = EmbeddingTable(
    table="people_enrolledface", index_prefix="enrolled", carried=("person_id",)
)
