"""LFW-style 10-fold verification on ../shared/data/faces/pairs.tsv for the
Facet engines and the peer library face_recognition, in one run.

    python -m bench.accuracy [--runners facet-dlib,facet-onnx,face_recognition] [--procs 2]

Per fold: the threshold maximising accuracy on the other 9 folds is applied
to this fold; the mean and std of the 10 fold accuracies are reported.
Similarity: cosine for Facet's (L2-normalised) embeddings; for
face_recognition its own face_distance (Euclidean on raw descriptors).
No-face policy: see bench/common.py (whole image as the face, all runners).
"""

from __future__ import annotations

import argparse
import csv
import multiprocessing as mp
import time

import numpy as np

from bench.common import FACES, RUNNERS, analyse_paths, chunks, init_worker, make_pack_dir


def read_pairs():
    with open(FACES / "pairs.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    return (
        [int(r["fold"]) for r in rows],
        [int(r["label"]) for r in rows],
        [r["image_a"] for r in rows],
        [r["image_b"] for r in rows],
    )


def ten_fold(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> list[float]:
    """scores: higher = more similar."""
    accs = []
    candidates = np.unique(scores)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        s, y = scores[train], labels[train]
        train_acc = [((s >= t) == y).mean() for t in candidates]
        threshold = candidates[int(np.argmax(train_acc))]
        accs.append(float(((scores[test] >= threshold) == labels[test]).mean()))
    return accs


def embed_all(runner: str, files: list[str], procs: int, pack_dir: str):
    with mp.get_context("fork").Pool(
        procs, initializer=init_worker, initargs=(runner, pack_dir)
    ) as pool:
        start = time.perf_counter()
        rows = [r for part in pool.map(analyse_paths, chunks(files, 8)) for r in part]
        elapsed = time.perf_counter() - start
    return {r["path"]: r for r in rows}, elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runners", default=",".join(RUNNERS))
    parser.add_argument("--procs", type=int, default=2)
    args = parser.parse_args()
    folds, labels, a, b = read_pairs()
    folds, labels = np.array(folds), np.array(labels)
    files = sorted({*a, *b})
    paths = [str(FACES / f) for f in files]
    pack_dir = make_pack_dir()
    print(f"{len(labels)} pairs, {len(files)} images, {args.procs} processes")
    print(
        "no-face policy: whole image taken as the face (all runners); "
        "several faces: the one nearest the image centre"
    )
    print(f"{'runner':18} {'accuracy':>9} {'std':>6} {'no-face imgs':>12} {'time s':>7}")
    for runner in args.runners.split(","):
        rows, elapsed = embed_all(runner, paths, args.procs, pack_dir)
        emb = {f: rows[str(FACES / f)]["embedding"] for f in files}
        no_face = sum(1 for f in files if not rows[str(FACES / f)]["boxes"])
        ea = np.stack([emb[x] for x in a])
        eb = np.stack([emb[x] for x in b])
        if runner == "face_recognition":
            scores = -np.linalg.norm(ea - eb, axis=1)  # its face_distance, negated
        else:
            scores = np.sum(ea * eb, axis=1)
        accs = ten_fold(scores, labels, folds)
        print(
            f"{runner:18} {100 * np.mean(accs):8.2f}% {100 * np.std(accs):5.2f} "
            f"{no_face:12d} {elapsed:7.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
