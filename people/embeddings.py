"""People's enrolled faces as an embedding table of the vector layer."""

from vectors.tables import EmbeddingTable

ENROLLED_TABLE = EmbeddingTable(
    table="people_enrolledface", index_prefix="enrolled", carried=("person_id",)
)

# Faces said not to be someone on an identification (no library face to keep
# the rejection on): in the same basis as every table, refitted with them.
REJECTED_TABLE = EmbeddingTable(
    table="people_identifyrejection", index_prefix="identify_rejection", carried=("person_id",)
)
