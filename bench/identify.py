"""Identification: open-set accuracy on real identities, and the latency of
POST /api/v1/identify/ over HTTP against large galleries, with the peer.

    .venv/bin/python -m bench.identify accuracy [--engines dlib onnx] [--people 100]
    .venv/bin/python -m bench.identify latency [--engines dlib onnx] [--queries 60]

accuracy (in this process, the engines and the production decision code):
  2 photos each of --people identities are enrolled (the enrolment checks
  apply: a refused photo is not enrolled), 1 other photo of each is a probe,
  and 1 photo each of --people other identities are probes of strangers.
  The threshold is calibrated from the gallery's best-impostor scores
  (``people.calibration``) for a target FAR; a probe is named by its best
  person when that reaches the threshold and its face is of usable quality.
  Printed per engine and target:
      <engine> target FAR <t>: DIR <d> at FAR <f> (threshold <x>), rank-1 <r>
  DIR: share of enrolled probes given their own name. FAR: share of
  strangers given a name. rank-1: share of enrolled probes whose best
  person is right, threshold aside.

latency (`run_platform` in a fresh var dir; the ONNX pack from ../shared/models
imported there): a real person enrolled from 2 photos through the API, plus
synthetic people (unit embeddings) written to the gallery, first 1,000 people
x 3 faces, then 100,000 enrolled faces; --queries identifications of a third
photo of the real person, one at a time. In the same run, the peer way:
face_recognition.load_image_file + face_encodings + compare_faces over the
same number of known encodings, in Python. Printed:
      <engine> gallery <n> faces: identify p50 <a> ms, p95 <b> ms; peer p50 <c> ms; ratio <c/a>x
and the web and worker processes' RSS with the engine loaded.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import numpy as np

from bench.common import FACES, WebProcesses, make_pack_dir
from bench.load import multipart

TARGETS = (0.01, 0.001)


# ------------------------------------------------------------------ accuracy


def _identities(
    people: int, strangers_wanted: int
) -> tuple[list[tuple[str, list[Path]]], list[tuple[str, Path]]]:
    folders = sorted(p for p in (FACES / "identities").iterdir() if p.is_dir())
    rich = [(f.name, sorted(f.glob("*.jpg"))) for f in folders]
    enrolled = [(name, photos[:3]) for name, photos in rich if len(photos) >= 3][:people]
    taken = {name for name, _ in enrolled}
    strangers = [(name, photos[0]) for name, photos in rich if name not in taken and photos]
    return enrolled, strangers[:strangers_wanted]


def _engine(name: str, pack_dir: str):
    from recognition.engines.registry import build_engine

    return build_engine("dlib") if name == "dlib" else build_engine("insightface", pack_dir)


def _central_face(engine, path: Path):
    """(face, embedding, image) of the face nearest the centre, or None."""
    from bench.common import central
    from recognition.imaging import load_image

    image = load_image(path)
    faces, embeddings = engine.analyze_batch([image])[0]
    if not faces:
        return None
    i = central([f.box for f in faces], image.shape)
    return faces[i], embeddings[i], image


def accuracy(engine_name: str, people: int, strangers_wanted: int, pack_dir: str) -> None:
    from people.calibration import best_impostor_scores, threshold_for
    from people.conf import DEFAULTS
    from people.errors import EnrolmentRefused
    from people.faces import check_face

    enrolled, strangers = _identities(people, strangers_wanted)
    engine = _engine(engine_name, pack_dir)
    gallery, owners, refused = [], [], {}
    probes = []
    for index, (_name, photos) in enumerate(enrolled):
        for path in photos[:2]:
            found = _central_face(engine, path)
            if found is None:
                refused["no-face"] = refused.get("no-face", 0) + 1
                continue
            face, embedding, image = found
            try:
                check_face(image, face)
            except EnrolmentRefused as exc:
                refused[exc.code] = refused.get(exc.code, 0) + 1
                continue
            gallery.append(embedding)
            owners.append(index)
        probes.append((index, photos[2]))
    stranger_probes = [(-1, path) for _, path in strangers]
    gallery = np.asarray(gallery, np.float32)
    owners = np.asarray(owners)
    impostors = best_impostor_scores(gallery.copy(), owners)

    answers = []
    for owner, path in probes + stranger_probes:
        found = _central_face(engine, path)
        if found is None:
            answers.append((owner, None, -1.0, 0.0))
            continue
        face, embedding, _ = found
        similarity = gallery @ embedding
        best = {}
        for person, score in zip(owners.tolist(), similarity.tolist(), strict=True):
            best[person] = max(best.get(person, -1.0), score)
        top = max(best, key=best.get)
        answers.append((owner, top, best[top], face.quality))
    print(
        f"{engine_name}: gallery {len(gallery)} faces of {len(set(owners.tolist()))} people "
        f"(refused at enrolment: {refused or 'none'}), {len(probes)} enrolled probes, "
        f"{len(stranger_probes)} strangers",
        flush=True,
    )
    min_quality = DEFAULTS["IDENTIFY_MIN_QUALITY"]
    for target in TARGETS:
        threshold, _ = threshold_for(impostors, target)
        named = [
            (owner, top)
            for owner, top, score, quality in answers
            if top is not None and score >= threshold and quality >= min_quality
        ]
        correct = sum(1 for owner, top in named if owner >= 0 and owner == top)
        false_accepts = sum(1 for owner, _ in named if owner < 0)
        rank1 = sum(1 for owner, top, _, _ in answers if owner >= 0 and owner == top)
        print(
            f"{engine_name} target FAR {target:g}: DIR {correct / len(probes):.3f} at FAR "
            f"{false_accepts / len(stranger_probes):.3f} (threshold {threshold:.3f}), "
            f"rank-1 {rank1 / len(probes):.3f}",
            flush=True,
        )


# ------------------------------------------------------------------ latency


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))]


def _django(var: Path):
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    os.environ["FACET_VAR_DIR"] = str(var)
    import django

    django.setup()


def _fill_gallery(schema: str, model_id: int, faces: int, dim: int, seed: int) -> None:
    """Synthetic people, 3 unit embeddings each, until the gallery holds ``faces``."""
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from people.embeddings import ENROLLED_TABLE
    from people.models import EnrolledFace, Person
    from vectors.indexes import index_build, index_drop

    rng = np.random.default_rng(seed)
    with schema_context(schema):
        missing = faces - EnrolledFace.objects.filter(face_model_id=model_id).count()
        # Inserting into a live HNSW index runs at a few hundred rows a second:
        # a bulk load drops it and builds it after, as operators do.
        index_drop(ENROLLED_TABLE, dim)
        while missing > 0:
            batch = min(missing, 3000)
            people = Person.objects.bulk_create(
                Person(
                    name=f"Synthetic {uuid.uuid4().hex[:8]}",
                    consent_basis="other",
                    consent_note="benchmark",
                    consent_recorded_at=timezone.now(),
                )
                for _ in range((batch + 2) // 3)
            )
            vectors = rng.standard_normal((len(people) * 3, dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            EnrolledFace.objects.bulk_create(
                EnrolledFace(
                    person=people[i // 3],
                    face_model_id=model_id,
                    source="upload",
                    box=[0, 0, 1, 1],
                    quality=1.0,
                    crop="bench.jpg",
                    embedding=vectors[i].tolist(),
                )
                for i in range(min(batch, len(vectors)))
            )
            missing -= batch
        index_build(ENROLLED_TABLE, dim, maintenance_work_mem="512MB")
        from django.db import connection

        with connection.cursor() as cursor:  # fresh statistics, as after any bulk load
            cursor.execute("ANALYZE people_enrolledface")


def _peer_times(known: int, probe: Path, queries: int) -> list[float]:
    """The seeds' way: decode, detect and encode with face_recognition, then
    compare_faces against ``known`` encodings in Python."""
    import face_recognition

    rng = np.random.default_rng(0)
    encodings = list(rng.standard_normal((known, 128)) * 0.05)
    times = []
    for _ in range(queries):
        started = time.perf_counter()
        image = face_recognition.load_image_file(probe)
        [encoding] = face_recognition.face_encodings(image)[:1]
        face_recognition.compare_faces(encodings, encoding, tolerance=0.6)
        times.append(time.perf_counter() - started)
    return times


def latency(engines: list[str], queries: int) -> None:
    import subprocess

    import psutil

    from bench.ingest import Client, Platform

    platform = Platform(workers=1, extra_env={"FACET_IDENTIFY_THROTTLE": "100000/min"})
    person_dir = FACES / "identities" / "Angela_Merkel"
    probe = person_dir / "Angela_Merkel_0003.jpg"
    try:
        print(f"run_platform -> ready: {platform.start():.1f} s", flush=True)
        _django(platform.var)
        creds = platform.credentials()
        client = Client(platform.port, "demo.localhost")
        client.login(creds["email"], creds["password"])
        web = WebProcesses(platform.process.pid)
        for engine in engines:
            if engine == "onnx":
                pack = make_pack_dir()
                for argv in (
                    ["import", pack, "--name", "bench-onnx"],
                    ["use", "demo", "bench-onnx"],
                ):
                    subprocess.run(
                        [sys.executable, "manage.py", "models", *argv],
                        env={**os.environ, **platform.env},
                        check=True,
                        capture_output=True,
                    )
            status, person = client.json(
                "POST", "/api/v1/people/", {"name": f"Merkel {engine}", "consent_basis": "consent"}
            )
            for photo in sorted(person_dir.glob("*.jpg"))[:2]:
                body, ctype = multipart("photo", photo)
                status, data = client.request(
                    "POST", f"/api/v1/people/{person['id']}/faces/", body, {"Content-Type": ctype}
                )
                assert status == 201, data
            from django_tenants.utils import schema_context

            from people.models import EnrolledFace

            with schema_context("t_demo"):
                model = EnrolledFace.objects.filter(person_id=person["id"]).first().face_model
            for size in (3000, 100_000):
                _fill_gallery("t_demo", model.pk, size, model.embedding_dim, seed=size)
                body, ctype = multipart("photo", probe)
                times = []
                for _ in range(queries + 3):
                    started = time.perf_counter()
                    status, data = client.request(
                        "POST", "/api/v1/identify/", body, {"Content-Type": ctype}
                    )
                    times.append(time.perf_counter() - started)
                    answer = json.loads(data)
                    assert status == 200, answer
                times = times[3:]  # the first calls load the engine and warm the caches
                named = answer["faces"][0]["person"]
                peer = _peer_times(size, probe, max(10, queries // 3))
                p50 = statistics.median(times) * 1000
                peer_p50 = statistics.median(peer) * 1000
                print(
                    f"{engine} gallery {size} faces: identify p50 {p50:.0f} ms, p95 "
                    f"{_percentile(times, 95) * 1000:.0f} ms (named {named and named['name']}); "
                    f"peer p50 {peer_p50:.0f} ms; ratio {peer_p50 / p50:.2f}x",
                    flush=True,
                )
            workers = [
                p
                for p in psutil.Process(platform.process.pid).children(recursive=True)
                if "qcluster" in " ".join(p.cmdline())
            ]
            print(
                f"{engine} RSS: web {web.rss() / 2**20:.0f} MiB (engine loaded), "
                f"worker cluster {sum(p.memory_info().rss for p in workers) / 2**20:.0f} MiB",
                flush=True,
            )
    finally:
        with contextlib.suppress(Exception):
            platform.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("part", choices=["accuracy", "latency"])
    parser.add_argument("--engines", nargs="+", default=["dlib", "onnx"], choices=["dlib", "onnx"])
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--strangers", type=int, default=300, help="not-enrolled probes")
    parser.add_argument("--queries", type=int, default=60)
    args = parser.parse_args()
    if args.part == "accuracy":
        import tempfile

        # Django's settings (the people app's defaults), on a scratch embedded database.
        _django(Path(tempfile.mkdtemp(prefix="facet-bench-identify-")))
        pack = make_pack_dir()
        for engine in args.engines:
            accuracy(engine, args.people, args.strangers, pack)
    else:
        latency(args.engines, args.queries)


if __name__ == "__main__":
    main()
