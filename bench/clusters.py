"""People discovery: cluster quality on real identities against two baselines,
and the cost of placing new faces as the catalogue grows.

    FACET_VAR_DIR=/tmp/facet-clusters-bench .venv/bin/python -m bench.clusters quality \
        [--engines dlib onnx] [--orders 3]
    FACET_VAR_DIR=/tmp/facet-clusters-bench .venv/bin/python -m bench.clusters cost \
        [--sizes 10000 100000 1000000] [--new 1000] [--dbscan-max 100000]

quality: every photo of the people in ../shared/data/faces/identities with at
least 4 photos, every face the engine finds in them, stored as the catalogue's
faces of a scratch tenant with no names, then placed by production code
(``people.discovery.placement.place_faces``, one call per photo as the
per-file task does) in a random upload order (``--orders`` seeds). Scored on
the photos' central faces, whose identity is known (a bystander's face has
none; it is clustered but not scored); a face left pending or out of clusters
counts as a cluster of its own. Printed per engine:

    <engine> facet: pairwise precision P recall R, BCubed F1 F (...)

then, on the same embeddings, Immich-style DBSCAN (min 3 faces, cosine max
distance 0.5, Immich's defaults) and scikit-learn's HDBSCAN (its default
min_cluster_size 5, and 3). Both baselines are batch algorithms: they see
every face at once, in any order.

cost (``--reuse`` places the new faces of an earlier run's tenants again,
without loading them anew): synthetic clustered embeddings (``bench.search.DataSet``: identity
centres plus noise, ~12 faces each, same-identity cosine 0.6-0.8), loaded
with COPY into a scratch tenant with the HNSW index, every face already in
its identity's cluster; then ``--new`` fresh faces of stored identities are
placed one by one in a child process (the clustering task), which prints
its time and peak RSS:

    place 1000 faces into <n>: <t> s (<ms> ms a face), peak RSS <m> MiB

and, in the same run, a full DBSCAN re-run over the catalogue (scikit-learn,
brute-force cosine) up to ``--dbscan-max`` faces.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("FACET_VAR_DIR", os.path.join(tempfile.gettempdir(), "facet-clusters-bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

ROOT = Path(__file__).resolve().parents[1]
IMMICH_MAX_DISTANCE = 0.5  # Immich's default "maximum recognition distance"
IMMICH_MIN_FACES = 3


# ------------------------------------------------------------------ scoring


def scores(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Pairwise precision and recall, and BCubed F1, of ``labels`` (-1: alone)
    against ``truth``."""
    labels = labels.copy()
    alone = labels < 0
    labels[alone] = labels.max(initial=0) + 1 + np.arange(alone.sum())
    same_cluster = labels[:, None] == labels[None, :]
    same_person = truth[:, None] == truth[None, :]
    off_diagonal = ~np.eye(len(labels), dtype=bool)
    both = same_cluster & same_person
    precision = (both & off_diagonal).sum() / max((same_cluster & off_diagonal).sum(), 1)
    recall = (both & off_diagonal).sum() / max((same_person & off_diagonal).sum(), 1)
    b_precision = (both.sum(1) / same_cluster.sum(1)).mean()
    b_recall = (both.sum(1) / same_person.sum(1)).mean()
    return (
        float(precision),
        float(recall),
        float(2 * b_precision * b_recall / (b_precision + b_recall)),
    )


def line(label: str, result: tuple[float, float, float], extra: str = "") -> str:
    p, r, f = result
    return f"{label}: pairwise precision {p:.3f} recall {r:.3f}, BCubed F1 {f:.3f}{extra}"


# ------------------------------------------------------------------ setup


def setup_django() -> None:
    var_dir = Path(os.environ["FACET_VAR_DIR"]).resolve()
    if var_dir == ROOT / "var":
        sys.exit("FACET_VAR_DIR is the development install's var/: use a bench-only directory")
    from bench.search import prepare_server

    prepare_server(var_dir)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from tenants import services

    call_command("migrate_schemas", "--shared", verbosity=0)
    call_command("createcachetable", verbosity=0)
    services.public_tenant_ensure(domain="localhost")


def scratch_tenant(slug: str) -> str:
    """A fresh tenant (dropped and created again): its schema name."""
    from tenants import services
    from tenants.models import Tenant

    existing = Tenant.objects.filter(slug=slug).first()
    if existing is not None:
        services.tenant_delete(tenant=existing)
    services.tenant_create(slug=slug, domain=f"{slug}.localhost", owner_email=f"o@{slug}.test")
    return Tenant.schema_name_for(slug)


# ------------------------------------------------------------------ quality


def _photos() -> list[tuple[int, Path]]:
    from bench.common import FACES

    folders = sorted(p for p in (FACES / "identities").iterdir() if p.is_dir())
    photos = []
    for person, folder in enumerate(f for f in folders if len(list(f.glob("*.jpg"))) >= 4):
        photos += [(person, path) for path in sorted(folder.glob("*.jpg"))]
    return photos


def _face_model(engine_name: str, pack_dir: str):
    from recognition import services

    if engine_name == "dlib":
        return services.builtin_model_ensure()
    from recognition.models import FaceModel

    found = FaceModel.objects.filter(engine="insightface", name="bench-pack").first()
    return found or services.face_model_import(source=Path(pack_dir), name="bench-pack")


def _analyse(engine, photos):
    """Per photo: (person, [(embedding, quality, box)], index of the central face)."""
    from bench.common import central
    from recognition.imaging import load_image

    analysed = []
    for person, path in photos:
        image = load_image(path)
        faces, embeddings = engine.analyze_batch([image])[0]
        if not faces:
            analysed.append((person, [], None))
            continue
        middle = central([f.box for f in faces], image.shape)
        analysed.append(
            (
                person,
                [(e, f.quality, f.box) for f, e in zip(faces, embeddings, strict=True)],
                middle,
            )
        )
    return analysed


def _store(analysed, face_model) -> list[list[int]]:
    """The photos as catalogue files with their faces (no names): face ids per photo."""
    from media_ingest.embeddings import FACE_TABLE
    from media_ingest.models import Face, MediaFile
    from vectors.basis import embeddings_for_storage

    ids = []
    for n, (_person, faces, _middle) in enumerate(analysed):
        media = MediaFile.objects.create(
            kind="image", source="api", original_name=f"p{n}.jpg", file=f"o/{n}.jpg",
            sha256=f"{n:064d}", mime="image/jpeg", size_bytes=1, status="done",
            face_model=face_model, face_count=len(faces),
        )  # fmt: skip
        stored = embeddings_for_storage(
            table=FACE_TABLE,
            face_model_id=face_model.pk,
            dimension=face_model.embedding_dim,
            vectors=[e for e, _, _ in faces],
        )
        rows = Face.objects.bulk_create(
            [
                Face(
                    media=media,
                    ordinal=i,
                    face_model=face_model,
                    box_left=int(box[0]),
                    box_top=int(box[1]),
                    box_right=int(box[2]),
                    box_bottom=int(box[3]),
                    landmarks=[],
                    quality=float(quality),
                    detector_score=1.0,
                    crop="c.jpg",
                    embedding=embedding,
                )
                for i, ((_, quality, box), embedding) in enumerate(zip(faces, stored, strict=True))
            ]
        )
        ids.append([f.pk for f in rows])
    return ids


def quality(engines: list[str], orders: int) -> None:
    from sklearn.cluster import DBSCAN, HDBSCAN

    from bench.common import make_pack_dir

    setup_django()
    from django_tenants.utils import schema_context

    from media_ingest.models import Face
    from people.discovery.placement import place_faces
    from people.models import ClusterFace, FaceCluster
    from recognition.services import engine_for

    photos = _photos()
    pack_dir = make_pack_dir()
    print(f"{len(photos)} photos of {len({p for p, _ in photos})} people (>= 4 photos each)")
    for engine_name in engines:
        face_model = _face_model(engine_name, pack_dir)
        t0 = time.perf_counter()
        analysed = _analyse(engine_for(face_model), photos)
        print(f"{engine_name}: analysed in {time.perf_counter() - t0:.0f} s", flush=True)
        truth = np.array([p for p, faces, m in analysed if m is not None])
        schema = scratch_tenant(f"cq-{engine_name}")
        with schema_context(schema):
            from recognition.models import TenantFaceModel
            from tenants.models import Tenant

            TenantFaceModel.objects.update_or_create(
                tenant=Tenant.objects.get(schema_name=schema), defaults={"face_model": face_model}
            )
            face_ids = _store(analysed, face_model)
            central_ids = [
                ids[m] for (_, _, m), ids in zip(analysed, face_ids, strict=True) if m is not None
            ]
            results = []
            for seed in range(orders):
                FaceCluster.objects.all().delete()
                ClusterFace.objects.all().delete()
                order = np.random.default_rng(seed).permutation(len(face_ids))
                t0 = time.perf_counter()
                for index in order:
                    place_faces(face_ids[index], face_model)
                elapsed = time.perf_counter() - t0
                placed = dict(
                    ClusterFace.objects.exclude(cluster=None).values_list("face_id", "cluster_id")
                )
                labels = np.array([placed.get(f, -1) for f in central_ids])
                result = scores(labels, truth)
                results.append(result)
                clusters = FaceCluster.objects.count()
                per_face = elapsed / sum(map(len, face_ids)) * 1e3
                extra = f" ({clusters} clusters; {per_face:.1f} ms a face)"
                print(line(f"{engine_name} facet (order {seed})", result, extra), flush=True)
            mean = tuple(float(x) for x in np.mean(results, axis=0))
            print(line(f"{engine_name} facet", mean, f" (mean of {orders} upload orders)"))
            rows = list(Face.objects.order_by("pk").values_list("pk", "embedding"))
        ids = [r[0] for r in rows]
        vectors = np.array([np.array(r[1], np.float32) for r in rows])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        where = {face_id: i for i, face_id in enumerate(ids)}
        scored = [where[f] for f in central_ids]
        dbscan = DBSCAN(eps=IMMICH_MAX_DISTANCE, min_samples=IMMICH_MIN_FACES, metric="cosine")
        print(
            line(
                f"{engine_name} immich-dbscan (max distance 0.5, min 3)",
                scores(dbscan.fit_predict(vectors)[scored], truth),
            )
        )
        for size in (5, 3):
            labels = HDBSCAN(min_cluster_size=size, copy=True).fit_predict(vectors)[scored]
            print(line(f"{engine_name} hdbscan (min_cluster_size {size})", scores(labels, truth)))
        print(f"{engine_name} link threshold {face_model.cluster_threshold}", flush=True)


# ------------------------------------------------------------------ cost


def _discovered(data, model_id: int) -> None:
    """Every loaded face in its identity's cluster, with the cluster's true sum."""
    from django.db import connection

    identities = np.unique(data.identity)
    sums = np.zeros((identities.max() + 1, data.dim), np.float32)
    np.add.at(sums, data.identity, data.vectors)
    sizes = np.bincount(data.identity, minlength=len(sums))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE people_clusterface, people_facecluster CASCADE")
        text = io.StringIO()
        for identity in identities:
            vector = ",".join(f"{x:.6f}" for x in sums[identity])
            text.write(f"{identity + 1}\t{model_id}\t{sizes[identity]}\t[{vector}]\tf\tnow\tnow\n")
        columns = "id, face_model_id, size, embedding_sum, hidden, created_at, updated_at"
        with cursor.copy(f"COPY people_facecluster ({columns}) FROM STDIN") as copy:
            copy.write(text.getvalue().encode())
        text = io.StringIO()
        for row in range(data.rows):
            text.write(f"{row + 1}\t{data.identity[row] + 1}\tf\tnow\n")
        with cursor.copy(
            "COPY people_clusterface (face_id, cluster_id, kept_out, placed_at) FROM STDIN"
        ) as copy:
            copy.write(text.getvalue().encode())
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence('people_facecluster', 'id'), "
            "(SELECT max(id) FROM people_facecluster))"
        )
        cursor.execute("ANALYZE people_clusterface")
        cursor.execute("ANALYZE people_facecluster")


def _new_faces(data, model, count: int) -> list[int]:
    from media_ingest.models import Face, MediaFile

    vectors, _ = data.queries(count)
    ids = []
    for n, vector in enumerate(vectors):
        media = MediaFile.objects.create(
            kind="image", source="api", original_name=f"new{n}.jpg", file=f"o/new{n}.jpg",
            sha256=f"n{n:063d}", mime="image/jpeg", size_bytes=1, status="done",
            face_model=model, face_count=1,
        )  # fmt: skip
        face = Face.objects.create(
            media=media, ordinal=0, face_model=model, box_left=0, box_top=0, box_right=100,
            box_bottom=100, landmarks=[], quality=0.9, detector_score=1.0, crop="c.jpg",
            embedding=vector,
        )  # fmt: skip
        ids.append(face.pk)
    return ids


def place_child(schema: str, model_id: int, face_ids: list[int]) -> None:
    """The clustering task's work, alone in this process: one placement per file."""
    setup_django()
    from django_tenants.utils import schema_context

    from people.discovery.placement import place_faces
    from recognition.models import FaceModel

    model = FaceModel.objects.get(pk=model_id)
    with schema_context(schema):
        place_faces(face_ids[:10], model)  # warm the connection and the plan cache
        t0 = time.perf_counter()
        for face_id in face_ids[10:]:
            place_faces([face_id], model)
        elapsed = time.perf_counter() - t0
    print(f"{elapsed:.3f} {len(face_ids) - 10} {_peak_rss_mib():.0f}")


def _peak_rss_mib() -> float:
    """This program's peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries
    the forking parent's peak across exec into it (here, the bench's data set)."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith("VmHWM:"):
            return int(row.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _catalogue(size: int, new: int, model, *, reuse: bool):
    """The cost bench's tenant for ``size``: (schema, the new faces' ids, the data
    set or None when reused). With ``reuse``, a tenant an earlier run loaded is
    taken as it is and its new faces are taken out of discovery again (their
    clusters recounted), to be placed once more."""
    from django.db import transaction
    from django_tenants.utils import schema_context

    from bench.search import DataSet, load
    from media_ingest.models import Face
    from people.discovery.services import cluster_refresh
    from people.models import ClusterFace
    from recognition.models import TenantFaceModel
    from tenants.models import Tenant

    existing = Tenant.objects.filter(slug=f"cc-{size}").first()
    if reuse and existing is not None:
        with schema_context(existing.schema_name), transaction.atomic():
            face_ids = sorted(Face.objects.filter(pk__gt=size).values_list("pk", flat=True))
            placed = ClusterFace.objects.filter(face_id__in=face_ids)
            touched = set(placed.values_list("cluster_id", flat=True))
            placed.delete()
            cluster_refresh(cluster_ids=touched - {None})
        print(f"catalogue of {size} reused: {len(face_ids)} faces to place again", flush=True)
        return existing.schema_name, face_ids, None
    data = DataSet(size, 128, "random")
    schema = scratch_tenant(f"cc-{size}")
    with schema_context(schema):
        TenantFaceModel.objects.update_or_create(
            tenant=Tenant.objects.get(schema_name=schema), defaults={"face_model": model}
        )
        t0 = time.perf_counter()
        load(data, model.pk, 16, 64)
        _discovered(data, model.pk)
        face_ids = _new_faces(data, model, new + 10)
        print(f"catalogue of {size} loaded in {time.perf_counter() - t0:.0f} s", flush=True)
    return schema, face_ids, data


def cost(sizes: list[int], new: int, dbscan_max: int, reuse: bool) -> None:
    from sklearn.cluster import DBSCAN

    setup_django()
    from django.db import connection

    from recognition.models import FaceModel

    model, _ = FaceModel.objects.update_or_create(
        name="bench-clusters-128", version="1",
        defaults={"engine": "dlib", "embedding_dim": 128, "licence": "bench",
                  "cluster_threshold": 0.5},
    )  # fmt: skip
    figures = {}
    for size in sizes:
        schema, face_ids, data = _catalogue(size, new, model, reuse=reuse)
        connection.close()
        child = subprocess.run(
            [sys.executable, "-m", "bench.clusters", "place-child", schema, str(model.pk),
             ",".join(map(str, face_ids))],
            cwd=ROOT, capture_output=True, text=True, check=True,
        )  # fmt: skip
        elapsed, placed, peak = child.stdout.strip().splitlines()[-1].split()
        elapsed, placed = float(elapsed), int(placed)
        figures[size] = elapsed
        print(
            f"place {placed} faces into {size}: {elapsed:.1f} s "
            f"({elapsed / placed * 1e3:.1f} ms a face), peak RSS {peak} MiB",
            flush=True,
        )
        if data is not None and size <= dbscan_max:
            t0 = time.perf_counter()
            DBSCAN(eps=0.5, min_samples=3, metric="cosine", n_jobs=1).fit(data.vectors)
            print(f"full DBSCAN re-run over {size}: {time.perf_counter() - t0:.1f} s", flush=True)
        elif data is not None:
            print(f"full DBSCAN re-run over {size}: not run (--dbscan-max {dbscan_max})")
    smallest, largest = min(figures), max(figures)
    if largest != smallest:
        print(
            f"placement time {largest} / {smallest}: {figures[largest] / figures[smallest]:.2f}x "
            f"for {largest / smallest:.0f}x the faces"
        )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    q = commands.add_parser("quality")
    q.add_argument("--engines", nargs="+", default=["dlib", "onnx"], choices=["dlib", "onnx"])
    q.add_argument("--orders", type=int, default=3)
    c = commands.add_parser("cost")
    c.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    c.add_argument("--new", type=int, default=1000)
    c.add_argument("--dbscan-max", type=int, default=100_000)
    c.add_argument(
        "--reuse", action="store_true", help="place the new faces of earlier runs' tenants again"
    )
    child = commands.add_parser("place-child")
    child.add_argument("schema")
    child.add_argument("model_id", type=int)
    child.add_argument("face_ids")
    args = parser.parse_args(argv)
    if args.command == "quality":
        quality(args.engines, args.orders)
    elif args.command == "cost":
        cost(args.sizes, args.new, args.dbscan_max, args.reuse)
    else:
        place_child(args.schema, args.model_id, [int(f) for f in args.face_ids.split(",")])


if __name__ == "__main__":
    main()
