"""The partial HNSW indexes over ``media_ingest_face.embedding``, one per
indexed embedding size, described once for the query builder, the bulk
loader and the tests. Migrations hold frozen copies of the DDL; tests check
that searches are served by the migrated indexes (EXPLAIN).

* 128-D (dlib): the embedding itself, ``vector(128)``.
* 512-D (InsightFace packs): a *sketch*, the first 128 coordinates as
  ``halfvec(128)``. Engines emit wide embeddings in a random orthonormal basis
  (``recognition.engines.basis``), so those coordinates are a random
  projection whose cosine tracks the full one. The graph then has the
  navigability of a 128-D one: over the full 512 coordinates, HNSW (m 16)
  lost match recall with size (0.997 at 200k, 0.971 at 500k at ef_search 400,
  0.88 at 1M in issue 5), and the build cost ~2.2x more. ``search.query``
  takes a larger shortlist from the sketch and re-ranks it on the full
  float32 embedding, so similarities are exact.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FaceIndex:
    dimension: int
    # SQL of the indexed value, with {v} standing for the embedding (the column
    # `f.embedding` in searches, the query's `%s::vector` literal beside it).
    expression: str
    opclass: str

    @property
    def name(self) -> str:
        return f"face_embedding_{self.dimension}_hnsw"

    def indexed_value(self, v: str) -> str:
        return self.expression.format(v=v)

    def create_sql(self, *, m: int = 16, ef_construction: int = 64) -> str:
        """CREATE INDEX statement (the migrations' defaults: m 16, ef_construction 64)."""
        return (
            f"CREATE INDEX IF NOT EXISTS {self.name} ON media_ingest_face "
            f"USING hnsw (({self.indexed_value('embedding')}) {self.opclass}) "
            f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
            f"WHERE vector_dims(embedding) = {self.dimension}"
        )


FACE_INDEXES = {
    128: FaceIndex(128, "({v})::vector(128)", "vector_cosine_ops"),
    512: FaceIndex(512, "subvector({v}, 1, 128)::halfvec(128)", "halfvec_cosine_ops"),
}
